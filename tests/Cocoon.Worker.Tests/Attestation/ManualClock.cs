namespace Cocoon.Worker.Tests.Attestation;

/// <summary>A TimeProvider whose "now" the test sets: freshness rules are checked at exact instants.</summary>
internal sealed class ManualClock(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;

    public override DateTimeOffset GetUtcNow() => Now;
}
