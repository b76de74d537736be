"""e-ID accounts: citizens' accounts, sessions, second factors, challenges, throttles, proofing, outbox.

Revision ID: 0006_eid
Revises: 0005_linkage
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_eid"
down_revision = "0005_linkage"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('eid_throttle',
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_eid_throttle'))
    )
    op.create_table('eid_account',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('person_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('pin', sa.String(length=12), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=True),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('phone_verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('level', sa.SmallInteger(), nullable=False),
    sa.Column('totp_secret', sa.String(length=200), nullable=True),
    sa.Column('totp_enabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('totp_last_step', sa.BigInteger(), nullable=True),
    sa.Column('activation_hash', sa.String(length=200), nullable=True),
    sa.Column('activation_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('failed_attempts', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_eid_account_person_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eid_account')),
    sa.UniqueConstraint('person_id', name=op.f('uq_eid_account_person_id')),
    sa.UniqueConstraint('pin', name=op.f('uq_eid_account_pin'))
    )
    op.create_table('eid_challenge',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('handle_sha256', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('secret', sa.String(length=200), nullable=False),
    sa.Column('payload', sa.String(length=2000), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['eid_account.id'], name=op.f('fk_eid_challenge_account_id_eid_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eid_challenge')),
    sa.UniqueConstraint('handle_sha256', name=op.f('uq_eid_challenge_handle_sha256'))
    )
    op.create_table('eid_guardianship',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('guardian_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('child_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('relation', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['child_account_id'], ['eid_account.id'], name=op.f('fk_eid_guardianship_child_account_id_eid_account')),
    sa.ForeignKeyConstraint(['guardian_account_id'], ['eid_account.id'], name=op.f('fk_eid_guardianship_guardian_account_id_eid_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eid_guardianship')),
    sa.UniqueConstraint('guardian_account_id', 'child_account_id', name=op.f('uq_eid_guardianship_guardian_account_id'))
    )
    with op.batch_alter_table('eid_guardianship', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_eid_guardianship_child_account_id'), ['child_account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_eid_guardianship_guardian_account_id'), ['guardian_account_id'], unique=False)

    op.create_table('eid_known_device',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('device_sha256', sa.String(length=64), nullable=False),
    sa.Column('user_agent', sa.String(length=300), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['eid_account.id'], name=op.f('fk_eid_known_device_account_id_eid_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eid_known_device')),
    sa.UniqueConstraint('account_id', 'device_sha256', name=op.f('uq_eid_known_device_account_id'))
    )
    with op.batch_alter_table('eid_known_device', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_eid_known_device_account_id'), ['account_id'], unique=False)

    op.create_table('eid_outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('recipient', sa.String(length=400), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('body', sa.String(length=2000), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['eid_account.id'], name=op.f('fk_eid_outbox_account_id_eid_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eid_outbox'))
    )
    with op.batch_alter_table('eid_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_eid_outbox_account_id'), ['account_id'], unique=False)
        batch_op.create_index('ix_eid_outbox_pending', ['sent_at', 'id'], unique=False)

    op.create_table('eid_passkey',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('credential_id', sa.String(length=400), nullable=False),
    sa.Column('public_key', sa.LargeBinary(), nullable=False),
    sa.Column('sign_count', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['eid_account.id'], name=op.f('fk_eid_passkey_account_id_eid_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eid_passkey')),
    sa.UniqueConstraint('credential_id', name=op.f('uq_eid_passkey_credential_id'))
    )
    with op.batch_alter_table('eid_passkey', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_eid_passkey_account_id'), ['account_id'], unique=False)

    op.create_table('eid_proofing',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('registrar', sa.String(length=60), nullable=False),
    sa.Column('level', sa.SmallInteger(), nullable=False),
    sa.Column('evidence', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['eid_account.id'], name=op.f('fk_eid_proofing_account_id_eid_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eid_proofing'))
    )
    with op.batch_alter_table('eid_proofing', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_eid_proofing_account_id'), ['account_id'], unique=False)

    op.create_table('eid_recovery_code',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('code_hash', sa.String(length=200), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['eid_account.id'], name=op.f('fk_eid_recovery_code_account_id_eid_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eid_recovery_code'))
    )
    with op.batch_alter_table('eid_recovery_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_eid_recovery_code_account_id'), ['account_id'], unique=False)

    op.create_table('eid_session',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('acting_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('auth_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('amr', sa.String(length=60), nullable=False),
    sa.Column('user_agent', sa.String(length=300), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['eid_account.id'], name=op.f('fk_eid_session_account_id_eid_account')),
    sa.ForeignKeyConstraint(['acting_account_id'], ['eid_account.id'], name=op.f('fk_eid_session_acting_account_id_eid_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eid_session')),
    sa.UniqueConstraint('token_sha256', name=op.f('uq_eid_session_token_sha256'))
    )
    with op.batch_alter_table('eid_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_eid_session_account_id'), ['account_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('eid_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_eid_session_account_id'))

    op.drop_table('eid_session')
    with op.batch_alter_table('eid_recovery_code', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_eid_recovery_code_account_id'))

    op.drop_table('eid_recovery_code')
    with op.batch_alter_table('eid_proofing', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_eid_proofing_account_id'))

    op.drop_table('eid_proofing')
    with op.batch_alter_table('eid_passkey', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_eid_passkey_account_id'))

    op.drop_table('eid_passkey')
    with op.batch_alter_table('eid_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_eid_outbox_pending')
        batch_op.drop_index(batch_op.f('ix_eid_outbox_account_id'))

    op.drop_table('eid_outbox')
    with op.batch_alter_table('eid_known_device', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_eid_known_device_account_id'))

    op.drop_table('eid_known_device')
    with op.batch_alter_table('eid_guardianship', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_eid_guardianship_guardian_account_id'))
        batch_op.drop_index(batch_op.f('ix_eid_guardianship_child_account_id'))

    op.drop_table('eid_guardianship')
    op.drop_table('eid_challenge')
    op.drop_table('eid_account')
    op.drop_table('eid_throttle')
