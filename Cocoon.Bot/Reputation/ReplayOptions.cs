using System.ComponentModel.DataAnnotations;

namespace Cocoon.Bot.Reputation;

/// <summary>Configuration section "Gateway:Replays": spot-check replays.</summary>
public sealed class ReplayOptions
{
    /// <summary>The share of requests checked by a second worker (0.02 = 2%).</summary>
    [Range(0.0, 1.0, ErrorMessage = "Gateway:Replays:Fraction must be between 0 (off) and 1 (every request).")]
    public double Fraction { get; set; } = Engine.SpotChecks.ReplayPlanner.DefaultFraction;

    /// <summary>
    /// Base64 of at least 32 random bytes, the same on every gateway, so every gateway picks the same requests; empty: a
    /// random secret per start. Workers never see it, so they cannot tell which of their jobs will be replayed.
    /// </summary>
    public string? Secret { get; set; }
}
