"""Build the enriched document (`metadata`, `original_data`, `enriched_info`, `statistics`) from a task
and a Wikipedia summary."""

from __future__ import annotations

from datetime import datetime

from contracts.tasks import Task
from worker import knowledge
from worker.wikipedia import Summary


def build_document(
    task: Task, summary: Summary, *, consumer_name: str, processed_at: datetime, duration_seconds: float
) -> dict:
    tips = knowledge.health_tips(species=task.species, age=task.age, vaccinated=task.vaccinated)
    return {
        "metadata": {
            "processed_by": consumer_name,
            "processed_at": processed_at.isoformat(),
            "processing_duration_seconds": round(duration_seconds, 3),
            "task_id": task.task_id,
            "enqueued_at": task.enqueued_at,
            "attempt": task.attempts + 1,
        },
        "original_data": task.pet_data(),
        "enriched_info": {
            "wikipedia": summary.as_enrichment(),
            "species_facts": knowledge.species_facts(task.species),
            "health_tips": tips,
        },
        "statistics": {
            "total_tips": len(tips),
            "vaccination_status": knowledge.vaccination_status(task.vaccinated),
            "age_category": knowledge.age_category(task.age),
        },
    }
