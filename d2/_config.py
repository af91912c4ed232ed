"""Start-up configuration: pick the policy source (a local file or signed bundles) for an instance.

This is the one module that knows both kinds of source, so the manager that holds the current policy
never imports cloud code, and the runtime's telemetry is switched on from here, above both.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from d2._sources.manager import PolicyManager, get_policy_manager

__all__ = ["configure_rbac", "configure_rbac_async", "configure_rbac_sync"]


def configure_rbac_sync(
    policy_file: str | os.PathLike[str] | None = None,
    *,
    instance_name: str = "default",
    hot_reload: bool = False,
    api_url: str | None = None,
    bundle_url: str | None = None,
    jwks_url: str | None = None,
    startup_timeout: float | None = None,
    app: str | None = None,
    pin_jwks_thumbprints: str | Sequence[str] | None = None,
    allow_volatile_floor: bool | None = None,
) -> PolicyManager:
    """Load the policy at start-up; raise ConfigurationError/MissingPolicyError/BundleExpiredError at once.

    Cloud mode (``D2_TOKEN`` or ``D2_BUNDLE_URL`` set, or ``bundle_url=`` given, and no ``policy_file``)
    polls signed bundles instead, waiting at most ``startup_timeout`` seconds for the first one; until
    a valid bundle is in hand every guarded call is refused. ``app`` (``D2_APP``) names the app the
    bundles must be signed for (required); ``pin_jwks_thumbprints`` (``D2_PIN_JWKS_THUMBPRINTS``) are the
    RFC 7638 thumbprints of the only keys trusted to sign them, with keys they endorse;
    ``allow_volatile_floor`` (``D2_ALLOW_VOLATILE_FLOOR``) accepts running without a persisted rollback
    floor.
    """
    _warn_if_context_set()
    manager = get_policy_manager(instance_name)
    if api_url:
        # The vendor SDK's D2_API_URL as an argument: the control plane's base URL.
        base = api_url.rstrip("/")
        bundle_url = bundle_url or (f"{base}/v1/policy/bundle" if os.environ.get("D2_TOKEN") else None)
        jwks_url = jwks_url or f"{base}/.well-known/jwks.json"
    if policy_file is None and (bundle_url or os.environ.get("D2_TOKEN") or os.environ.get("D2_BUNDLE_URL")):
        from d2._sources.cloud import start_bundle_source

        source = start_bundle_source(
            manager,
            bundle_url=bundle_url,
            jwks_url=jwks_url,
            startup_timeout=startup_timeout,
            app=app,
            pin_jwks_thumbprints=pin_jwks_thumbprints,
            allow_volatile_floor=allow_volatile_floor,
        )
        from d2._runtime.usage import usage_from_env

        usage_from_env(source.config.token)  # D2_TELEMETRY=usage|all: usage events to the control plane
    else:
        if manager.mode == "cloud":
            manager.shutdown()
        manager.load_local(policy_file)
        if hot_reload:
            manager.watch()
    from d2._runtime.stream import stream_from_env
    from d2._runtime.telemetry import configure_telemetry

    configure_telemetry()
    stream_from_env()  # D2_DECISION_STREAM: the opt-in local live stream `d2 tui --stream` reads
    return manager


async def configure_rbac_async(
    policy_file: str | os.PathLike[str] | None = None,
    *,
    instance_name: str = "default",
    hot_reload: bool = False,
    api_url: str | None = None,
    bundle_url: str | None = None,
    jwks_url: str | None = None,
    startup_timeout: float | None = None,
    app: str | None = None,
    pin_jwks_thumbprints: str | Sequence[str] | None = None,
    allow_volatile_floor: bool | None = None,
) -> PolicyManager:
    """Async twin of :func:`configure_rbac_sync`; file and network I/O run off the event loop."""
    import asyncio

    return await asyncio.to_thread(
        configure_rbac_sync,
        policy_file,
        instance_name=instance_name,
        hot_reload=hot_reload,
        api_url=api_url,
        bundle_url=bundle_url,
        jwks_url=jwks_url,
        startup_timeout=startup_timeout,
        app=app,
        pin_jwks_thumbprints=pin_jwks_thumbprints,
        allow_volatile_floor=allow_volatile_floor,
    )


configure_rbac = configure_rbac_async
"""The vendor SDK's name of :func:`configure_rbac_async`."""


def _warn_if_context_set() -> None:
    """Configuring while a user context is set usually means a request's context leaked (vendor warns too)."""
    from d2._runtime.context import current_state

    state = current_state()
    if state is None:
        return
    import logging
    import warnings

    from d2.exceptions import ContextLeakWarning

    message = (
        f"d2 is being configured while a user context is set (user {state.user.user_id!r}); "
        "configure at start-up, outside any request"
    )
    logging.getLogger("d2.context").warning("%s", message)
    warnings.warn(message, ContextLeakWarning, stacklevel=3)
