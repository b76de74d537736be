def test_list_units_filters_and_pages(client):
    response = client.get("/api/v1/units", params={"level": "province"})
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["total"] == 34 and len(page["items"]) == 34
    communes = client.get("/api/v1/units", params={"province_code": "79", "level": "commune", "limit": 200}).json()
    assert communes["total"] == 168 and len(communes["items"]) == 168
    second = client.get("/api/v1/units", params={"province_code": "79", "limit": 10, "offset": 10}).json()
    assert [u["id"] for u in second["items"]] == [u["id"] for u in communes["items"]][9:19]  # province first
    legacy = client.get("/api/v1/units", params={"scheme": "legacy", "level": "district"}).json()
    assert legacy["total"] == 696


def test_search_units(client):
    items = client.get("/api/v1/units", params={"q": "sai gon"}).json()["items"]
    first = items[0]
    assert first["name"] == "Phường Sài Gòn"
    assert first["label"] == "Phường Sài Gòn, Thành phố Hồ Chí Minh"
    assert (first["scheme"], first["level"], first["code"]) == ("2025", "commune", "26740")


def test_list_units_validation(client):
    assert client.get("/api/v1/units", params={"limit": 201}).status_code == 422
    assert client.get("/api/v1/units", params={"level": "hamlet"}).status_code == 422
    response = client.get("/api/v1/units", params={"scheme": "1975"})
    assert response.status_code == 422 and "unknown unit scheme" in response.json()["detail"]


def test_get_unit(client):
    unit = client.get("/api/v1/units", params={"q": "sai gon"}).json()["items"][0]
    response = client.get(f"/api/v1/units/{unit['id']}")
    assert response.status_code == 200 and response.json() == unit
    missing = client.get("/api/v1/units/999999999")
    assert missing.status_code == 404 and "no administrative unit" in missing.json()["detail"]


def test_convert_address(client):
    response = client.get("/api/v1/address/convert", params={"address": "12 Lê Lợi, Phường Bến Nghé, Quận 1, TP.HCM"})
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["new_address"] == "12 Lê Lợi, Phường Sài Gòn, Thành phố Hồ Chí Minh"
    assert data["old_commune"]["scheme"] == "legacy" and not data["already_current"]


def test_convert_unrecognised_address(client):
    response = client.get("/api/v1/address/convert", params={"address": "somewhere else"})
    assert response.status_code == 422
    assert "no Vietnamese province" in response.json()["detail"]
    assert client.get("/api/v1/address/convert").status_code == 422
