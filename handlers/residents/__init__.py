"""Residents: following, binding to a household (verification), roles, language, PIPL rights."""
