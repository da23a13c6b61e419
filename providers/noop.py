"""A provider that creates nothing: for benchmarks and for templates that only record intent."""

from providers import register
from providers.base import Outcome, Provider, State, Step, Target


@register("noop")
class NoopProvider(Provider):
    label = "No-op (creates nothing)"

    def create(self, target: Target) -> Outcome:
        return Outcome(
            State.READY,
            outputs={"resource": f"noop-{target.short_id}"},
            secret=f"noop credentials for {target.request_id}\n",
            secret_kind="credentials",
            steps=[Step("create", "nothing to create (noop provider)")],
        )

    def status(self, target: Target) -> Outcome:
        return self.create(target)

    def delete(self, target: Target) -> Outcome:
        return Outcome(State.ABSENT, steps=[Step("delete", "nothing to delete (noop provider)")])
