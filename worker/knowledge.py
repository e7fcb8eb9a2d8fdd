"""Species facts, health tips and statistics: the pure rules of enrichment (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SpeciesProfile:
    lifespan: str
    group: str
    diet: str
    fun_fact: str
    care_tip: str

    def facts(self) -> dict:
        return {
            "lifespan": self.lifespan,
            "group": self.group,
            "diet": self.diet,
            "fun_fact": self.fun_fact,
        }


PROFILES: dict[str, SpeciesProfile] = {
    "dog": SpeciesProfile(
        "10-13 years",
        "Mammal",
        "Omnivore",
        "A dog's sense of smell is tens of thousands of times keener than ours!",
        "Dogs need daily walks and regular dental care.",
    ),
    "cat": SpeciesProfile(
        "12-18 years",
        "Mammal",
        "Carnivore",
        "Cats spend 70% of their lives sleeping!",
        "Cats need scratching posts and regular grooming.",
    ),
    "bird": SpeciesProfile(
        "5-15 years (varies widely by species)",
        "Bird",
        "Omnivore (seeds, fruit, insects)",
        "Birds are the living descendants of dinosaurs!",
        "Birds need a spacious cage, daily time outside it and a varied diet.",
    ),
    "rabbit": SpeciesProfile(
        "8-12 years",
        "Mammal",
        "Herbivore",
        "A rabbit's teeth never stop growing!",
        "Rabbits need unlimited hay to keep their teeth worn down.",
    ),
    "fish": SpeciesProfile(
        "2-10 years (varies by species)",
        "Fish",
        "Omnivore",
        "Some fish can recognise their owners' faces!",
        "Fish need clean, cycled water: test it and change part of it weekly.",
    ),
    "hamster": SpeciesProfile(
        "2-3 years",
        "Mammal (rodent)",
        "Omnivore",
        "Hamsters can carry food in their cheek pouches, which stretch to their hips!",
        "Hamsters need a large cage with an exercise wheel and deep bedding to burrow in.",
    ),
    "guinea pig": SpeciesProfile(
        "5-7 years",
        "Mammal (rodent)",
        "Herbivore",
        "Guinea pigs jump straight up in the air when happy, which is called 'popcorning'!",
        "Guinea pigs cannot make vitamin C: give them fresh vegetables every day.",
    ),
    "parrot": SpeciesProfile(
        "20-80 years (varies by species)",
        "Bird",
        "Herbivore (seeds, nuts, fruit)",
        "Some parrots can learn hundreds of words!",
        "Parrots need daily social contact and toys to stay mentally healthy.",
    ),
    "turtle": SpeciesProfile(
        "20-40 years",
        "Reptile",
        "Omnivore",
        "Turtles have existed for more than 200 million years!",
        "Turtles need UVB lighting and a basking spot at the right temperature.",
    ),
    "tortoise": SpeciesProfile(
        "50-100 years",
        "Reptile",
        "Herbivore",
        "Some tortoises live for more than 150 years!",
        "Tortoises need UVB light, calcium and a dry, warm enclosure.",
    ),
    "horse": SpeciesProfile(
        "25-30 years",
        "Mammal",
        "Herbivore",
        "Horses can sleep both lying down and standing up!",
        "Horses need regular hoof trimming every 6-8 weeks and dental checks.",
    ),
    "ferret": SpeciesProfile(
        "6-10 years",
        "Mammal",
        "Carnivore",
        "A group of ferrets is called a 'business'!",
        "Ferrets need a high-protein diet and several hours of supervised play a day.",
    ),
    "snake": SpeciesProfile(
        "10-30 years (varies by species)",
        "Reptile",
        "Carnivore",
        "Snakes smell with their tongues!",
        "Snakes need a secure enclosure with a warm and a cool side.",
    ),
    "lizard": SpeciesProfile(
        "5-20 years (varies by species)",
        "Reptile",
        "Omnivore or insectivore",
        "Some lizards can shed their tails to escape predators!",
        "Lizards need UVB light and a temperature gradient in their terrarium.",
    ),
    "mouse": SpeciesProfile(
        "1-3 years",
        "Mammal (rodent)",
        "Omnivore",
        "Mice communicate with ultrasonic songs we cannot hear!",
        "Mice are social: keep them in same-sex pairs or groups.",
    ),
    "rat": SpeciesProfile(
        "2-3 years",
        "Mammal (rodent)",
        "Omnivore",
        "Rats laugh when they are tickled!",
        "Rats need companions and daily time out of the cage to explore.",
    ),
    "chinchilla": SpeciesProfile(
        "10-20 years",
        "Mammal (rodent)",
        "Herbivore",
        "Chinchillas have the densest fur of any land animal!",
        "Chinchillas need dust baths, never water baths, to keep their fur healthy.",
    ),
    "gerbil": SpeciesProfile(
        "2-4 years",
        "Mammal (rodent)",
        "Omnivore",
        "Gerbils thump their back feet to warn each other of danger!",
        "Gerbils need deep bedding to dig tunnels.",
    ),
    "hedgehog": SpeciesProfile(
        "4-6 years",
        "Mammal",
        "Insectivore",
        "Hedgehogs have around 5,000 spines!",
        "Hedgehogs need a warm room and a wheel for their nightly runs.",
    ),
    "canary": SpeciesProfile(
        "10-15 years",
        "Bird",
        "Herbivore (seeds)",
        "Only male canaries usually sing!",
        "Canaries need a cage long enough for flying from perch to perch.",
    ),
    "budgerigar": SpeciesProfile(
        "5-10 years",
        "Bird",
        "Herbivore (seeds)",
        "Budgies can see ultraviolet light!",
        "Budgies need company: a single budgie needs daily interaction.",
    ),
    "goldfish": SpeciesProfile(
        "10-15 years",
        "Fish",
        "Omnivore",
        "Goldfish can remember things for months, not seconds!",
        "Goldfish need a large, filtered tank: bowls are too small.",
    ),
    "frog": SpeciesProfile(
        "4-15 years (varies by species)",
        "Amphibian",
        "Carnivore (insects)",
        "Frogs drink water through their skin!",
        "Frogs need dechlorinated water and a humid enclosure.",
    ),
}

ALIASES = {
    "dogs": "dog",
    "puppy": "dog",
    "cats": "cat",
    "kitten": "cat",
    "birds": "bird",
    "rabbits": "rabbit",
    "bunny": "rabbit",
    "fishes": "fish",
    "hamsters": "hamster",
    "guinea pigs": "guinea pig",
    "guinea-pig": "guinea pig",
    "cavy": "guinea pig",
    "parrots": "parrot",
    "turtles": "turtle",
    "tortoises": "tortoise",
    "horses": "horse",
    "pony": "horse",
    "ferrets": "ferret",
    "snakes": "snake",
    "lizards": "lizard",
    "mice": "mouse",
    "rats": "rat",
    "chinchillas": "chinchilla",
    "gerbils": "gerbil",
    "hedgehogs": "hedgehog",
    "canaries": "canary",
    "budgie": "budgerigar",
    "budgies": "budgerigar",
    "parakeet": "budgerigar",
    "goldfishes": "goldfish",
    "frogs": "frog",
}

DEFAULT_FACTS = {
    "lifespan": "Varies by species",
    "group": "Unknown",
    "diet": "Varies by species",
    "fun_fact": "Every pet is unique!",
}

YOUNG_MAX_AGE = 0  # "under 1 year": ages are whole years
SENIOR_MIN_AGE = 11  # "over 10"


def species_key(species: str) -> str:
    """The lookup key of a species: lower case, single spaces, plural and pet names folded."""
    key = " ".join(species.lower().split())
    return ALIASES.get(key, key)


def profile_for(species: str) -> SpeciesProfile | None:
    return PROFILES.get(species_key(species))


def species_facts(species: str) -> dict:
    profile = profile_for(species)
    return profile.facts() if profile else dict(DEFAULT_FACTS)


def age_category(age: int) -> str:
    if age <= YOUNG_MAX_AGE:
        return "Puppy/Kitten"
    if age >= SENIOR_MIN_AGE:
        return "Senior"
    return "Adult"


def vaccination_status(vaccinated: bool) -> str:
    return "Up to date" if vaccinated else "Needs vaccination"


def health_tips(*, species: str, age: int, vaccinated: bool) -> list[str]:
    """An urgent tip when unvaccinated, one for the age, one for the species (when it is known)."""
    tips = []
    if not vaccinated:
        tips.append(f"⚠️ URGENT: This {species} needs vaccination! Please consult a veterinarian.")
    category = age_category(age)
    if category == "Puppy/Kitten":
        tips.append(f"🍼 Young {species}: schedule the first vaccines and deworming, and feed a diet made for growth.")
    elif category == "Senior":
        tips.append(f"👴 Senior {species}: plan vet check-ups every 6 months and watch joints, teeth and weight.")
    else:
        tips.append(f"💪 Adult {species} in prime age. Maintain regular check-ups.")
    profile = profile_for(species)
    if profile:
        tips.append(f"🐾 {profile.care_tip}")
    return tips
