"""Unit tests of the pure enrichment rules: facts, tips, statistics, titles."""

from __future__ import annotations

import pytest

from worker import knowledge
from worker.wikipedia import normalise_title, summary_url

SEED_SPECIES = ["Dog", "Cat", "Bird", "Rabbit", "Fish"]
MORE_SPECIES = ["Hamster", "Guinea pig", "Parrot", "Turtle", "Horse", "Ferret", "Snake", "Lizard", "Mouse", "Rat",
                "Chinchilla", "Gerbil", "Hedgehog", "Canary", "Budgerigar", "Goldfish", "Frog", "Tortoise"]  # fmt: skip


@pytest.mark.parametrize("species", SEED_SPECIES + MORE_SPECIES)
def test_known_species_have_facts_and_a_care_tip(species):
    facts = knowledge.species_facts(species)
    assert set(facts) == {"lifespan", "group", "diet", "fun_fact"}
    assert facts != knowledge.DEFAULT_FACTS
    assert len(knowledge.health_tips(species=species, age=5, vaccinated=True)) == 2


def test_cat_facts_are_the_seeds():
    assert knowledge.species_facts("Cat") == {
        "lifespan": "12-18 years",
        "group": "Mammal",
        "diet": "Carnivore",
        "fun_fact": "Cats spend 70% of their lives sleeping!",
    }


@pytest.mark.parametrize("species", ["cat", "CAT", " Cat ", "cats", "kitten"])
def test_species_lookup_ignores_case_spacing_and_plurals(species):
    assert knowledge.species_facts(species)["lifespan"] == "12-18 years"


def test_unknown_species_gets_defaults_and_no_species_tip():
    assert knowledge.species_facts("Axolotl") == knowledge.DEFAULT_FACTS
    assert knowledge.health_tips(species="Axolotl", age=5, vaccinated=True) == [
        "💪 Adult Axolotl in prime age. Maintain regular check-ups."
    ]


@pytest.mark.parametrize(
    ("age", "category"), [(0, "Puppy/Kitten"), (1, "Adult"), (10, "Adult"), (11, "Senior"), (100, "Senior")]
)
def test_age_category_boundaries(age, category):
    assert knowledge.age_category(age) == category


def test_the_seed_example_tips():
    tips = knowledge.health_tips(species="Cat", age=2, vaccinated=False)
    assert tips == [
        "⚠️ URGENT: This Cat needs vaccination! Please consult a veterinarian.",
        "💪 Adult Cat in prime age. Maintain regular check-ups.",
        "🐾 Cats need scratching posts and regular grooming.",
    ]


def test_young_and_senior_tips_name_the_species():
    assert knowledge.health_tips(species="Dog", age=0, vaccinated=True)[0].startswith("🍼 Young Dog")
    assert knowledge.health_tips(species="Dog", age=14, vaccinated=True)[0].startswith("👴 Senior Dog")


def test_vaccination_status():
    assert knowledge.vaccination_status(True) == "Up to date"
    assert knowledge.vaccination_status(False) == "Needs vaccination"


@pytest.mark.parametrize(
    ("species", "title"),
    [("cat", "Cat"), ("CAT", "Cat"), ("guinea pig", "Guinea pig"), ("Guinea   Pig", "Guinea pig"), ("ñandú", "Ñandú")],
)
def test_titles_are_normalised(species, title):
    assert normalise_title(species) == title


def test_summary_url_encodes_the_title():
    assert summary_url("https://en.wikipedia.org/api/rest_v1", "Guinea pig") == (
        "https://en.wikipedia.org/api/rest_v1/page/summary/Guinea_pig"
    )
    assert summary_url("http://x", "A/B?c") == "http://x/page/summary/A%2FB%3Fc"
