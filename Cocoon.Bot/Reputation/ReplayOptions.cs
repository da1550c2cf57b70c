using System.ComponentModel.DataAnnotations;

namespace Cocoon.Bot.Reputation;

/// <summary>Configuration section "Gateway:Replays": spot-check replays.</summary>
public sealed class ReplayOptions
{
    /// <summary>The share of requests checked by a second worker (0.02 = 2%).</summary>
    [Range(0.0, 1.0, ErrorMessage = "Gateway:Replays:Fraction must be between 0 (off) and 1 (every request).")]
    public double Fraction { get; set; } = Engine.SpotChecks.ReplayPlanner.DefaultFraction;

    /// <summary>A worker's first this many jobs are checked at <see cref="NewcomerFraction"/> (0: no newcomer rule; Fraction 0 turns it off too).</summary>
    [Range(0, long.MaxValue, ErrorMessage = "Gateway:Replays:NewcomerJobs must be 0 (off) or more jobs.")]
    public long NewcomerJobs { get; set; } = Engine.SpotChecks.NewcomerChecks.DefaultJobs;

    /// <summary>The share of a new worker's jobs that is checked (0.2 = 20%; never below Fraction).</summary>
    [Range(0.0, 1.0, ErrorMessage = "Gateway:Replays:NewcomerFraction must be between 0 and 1 (0.2 = 20% of a new worker's jobs).")]
    public double NewcomerFraction { get; set; } = Engine.SpotChecks.NewcomerChecks.DefaultFraction;

    public Engine.SpotChecks.NewcomerChecks Newcomers() => new() { Jobs = NewcomerJobs, Fraction = NewcomerFraction };

    /// <summary>
    /// Base64 of at least 32 random bytes, the same on every gateway, so every gateway picks the same requests; empty: a
    /// random secret per start. Workers never see it, so they cannot tell which of their jobs will be replayed.
    /// </summary>
    public string? Secret { get; set; }
}
