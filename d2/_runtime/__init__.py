"""The adapter to Python calls: guard, context, binding, middleware, events, telemetry."""
