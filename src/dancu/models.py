"""Imports every domain's models so that metadata and Alembic see all tables."""

from dancu.accounts import models as accounts_models  # noqa: F401
from dancu.audit import models as audit_models  # noqa: F401
from dancu.identity.eid import models as eid_models  # noqa: F401
from dancu.identity.cards import models as cards_models  # noqa: F401
from dancu.identity.oidc import models as oidc_models  # noqa: F401
from dancu.identity.pki import models as pki_models  # noqa: F401
from dancu.identity.signing import models as signing_models  # noqa: F401
from dancu.linkage import models as linkage_models  # noqa: F401
from dancu.registry import models as registry_models  # noqa: F401
from dancu.units import models as units_models  # noqa: F401
from dancu.db import Base

metadata = Base.metadata
