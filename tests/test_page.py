"""The public HTML page (served by the real API; no consumers needed)."""

from __future__ import annotations


def test_page_is_public_and_lists_pets(anon, api):
    api.create_pet(name="Luna", species="Cat", age=3, owner="María García", vaccinated=True)
    api.create_pet(name="Rex", species="Dog", age=12, owner="Ana", vaccinated=False)
    response = anon.get("/")
    assert response.status_code == 200
    html = response.text
    for text in ("Luna", "Cat", "María García", "Rex", "Dog", "Ana", "Queued"):
        assert text in html
    assert "(2)" in html
    assert 'id="login-form"' in html and 'id="create-form"' in html


def test_page_escapes_pet_data_and_keeps_it_out_of_scripts(anon, api):
    attack = "<script>alert(1)</script>"
    api.create_pet(name=attack, owner='"><img src=x onerror=alert(2)>')
    html = anon.get("/").text
    assert attack not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html
    # Scripts are external files only: no inline script can carry pet data.
    assert "<script>" not in html.replace(attack, "")
    assert html.count("<script") == 1 and 'src="/static/pets/pets_page.js"' in html


def test_page_static_assets_are_served(anon):
    for path in ("/static/pets/pets_page.js", "/static/pets/pets_page.css"):
        response = anon.get(path)
        assert response.status_code == 200, path


def test_page_shows_empty_state(anon, api_server):
    assert "No pets yet" in anon.get("/").text


def test_links_from_result_records_must_go_to_wikipedia(anon, api, pets_collection):
    """A result is data from outside (Wikipedia): no javascript: link or foreign image reaches the page."""
    from datetime import UTC, datetime

    from contracts.results import RESULTS_COLLECTION, ResultRecord

    pet = api.create_pet(name="Mishi")
    document = {
        "metadata": {"task_id": "t-1", "processed_by": "Consumer-1", "processed_at": datetime.now(UTC).isoformat()},
        "original_data": {"pet_id": pet["id"], "species": "Cat", "age": 3, "vaccinated": True},
        "enriched_info": {
            "wikipedia": {"wikipedia_extract": "<script>x</script>", "wikipedia_url": "javascript:alert(1)",
                          "thumbnail": "data:text/html,evil", "status": "found"},
            "species_facts": {"lifespan": "1", "group": "g", "diet": "d", "fun_fact": "f"},
            "health_tips": ["<b>tip</b>"],
        },
        "statistics": {"age_category": "Adult"},
    }  # fmt: skip
    record = ResultRecord.from_enriched(document, "Mishi.json")
    pets_collection.database[RESULTS_COLLECTION].insert_one(record.to_document())
    html = anon.get("/").text
    assert "Enriched" in html
    assert "javascript:" not in html and "data:text/html" not in html
    assert "<script>x" not in html and "<b>tip</b>" not in html
