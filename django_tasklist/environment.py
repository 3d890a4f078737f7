"""How settings.py reads a variable of the environment: typed, checked, and refused with its name.

Small on purpose: django-environ and environs parse types as well, but neither
refuses a template's placeholder or a number out of range, which are the two
mistakes a deployment here makes (see the README's layout section).
"""

import os
import re

from django.core.exceptions import ImproperlyConfigured

# What a spec template or a tutorial puts where a real value belongs: "<YOUR_CACHE_SERVERS>",
# "${db.DATABASE_URL}" left unresolved, "<RANDOM_SECRET_KEY>". Deployed as is, the app would run
# with a public secret key or without its cache, so it stops and names the variable.
PLACEHOLDER = re.compile(r"<[^<>]*>|\$\{[^{}]*\}|.*\b(YOUR_[A-Z_]+|RANDOM_SECRET_KEY|CHANGE_?ME)\b.*", re.IGNORECASE)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    if value.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if value.strip().lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be True or False, not {value!r}")


def env_text(name: str, default: str = "") -> str:
    """The variable as given, unless it is still a placeholder."""
    value = os.environ.get(name, default)
    if PLACEHOLDER.fullmatch(value.strip()):
        raise ImproperlyConfigured(f"{name} is still the placeholder {value!r}: set the real value")
    return value


def env_list(name: str, default: str, *, refuse_placeholder: bool = False) -> list[str]:
    value = env_text(name, default) if refuse_placeholder else os.environ.get(name, default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_number(name: str, default: float, *, minimum: float = 0) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {raw!r}")
    return value


def env_choice(name: str, default: str, choices: set[str]) -> str:
    value = os.environ.get(name, "").strip() or default
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {sorted(choices)}, not {value!r}")
    return value
