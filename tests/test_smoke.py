def test_api_lists_created_item(api, item):
    response = api.get("/api/v1/items")
    assert response.status_code == 200
    assert [i["title"] for i in response.json["items"]] == ["MTS Russia"]
