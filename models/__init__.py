"""Tortoise models, one module per capability, and the audit log.

Models import nothing from ``bot`` or ``handlers``.
"""

MODEL_MODULES = [
    "models.community",
    "models.residents",
    "models.audit",
    "models.outbox",
    "models.inbox",
    "models.proposals",
    "models.complaints",
    "models.volunteers",
    "models.notices",
    "models.accounts",
    "models.canvass",
    "models.media",
    "models.budget",
]
