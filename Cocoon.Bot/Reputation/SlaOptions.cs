using System.ComponentModel.DataAnnotations;
using Cocoon.Engine.Reputation;

namespace Cocoon.Bot.Reputation;

/// <summary>
/// Configuration section "Gateway:Sla": the published targets of the standard and premium classes (best effort has
/// none) and the share of a breached job's charge that is refunded. The reputation model judges workers by the same
/// targets.
/// </summary>
public sealed class SlaOptions
{
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00", ErrorMessage = "Gateway:Sla:StandardFirstToken must be between 10 ms and 10 minutes.")]
    public TimeSpan StandardFirstToken { get; set; } = ReputationPolicy.Default.Standard.MaxTimeToFirstToken;

    [Range(0.0, 100_000.0, ErrorMessage = "Gateway:Sla:StandardTokensPerSecond must be between 0 and 100000.")]
    public double StandardTokensPerSecond { get; set; } = ReputationPolicy.Default.Standard.MinTokensPerSecond;

    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00", ErrorMessage = "Gateway:Sla:PremiumFirstToken must be between 10 ms and 10 minutes.")]
    public TimeSpan PremiumFirstToken { get; set; } = ReputationPolicy.Default.Premium.MaxTimeToFirstToken;

    [Range(0.0, 100_000.0, ErrorMessage = "Gateway:Sla:PremiumTokensPerSecond must be between 0 and 100000.")]
    public double PremiumTokensPerSecond { get; set; } = ReputationPolicy.Default.Premium.MinTokensPerSecond;

    /// <summary>Thousandths of a breached job's charge refunded to the user from the provider's earnings (500 = half).</summary>
    [Range(0, 1000, ErrorMessage = "Gateway:Sla:RefundPerMille must be between 0 (no refunds) and 1000 (the whole charge).")]
    public int RefundPerMille { get; set; } = 500;

    /// <summary>The reputation policy with these targets.</summary>
    public ReputationPolicy Policy() => ReputationPolicy.Default with
    {
        Standard = new SlaTarget(StandardFirstToken, StandardTokensPerSecond),
        Premium = new SlaTarget(PremiumFirstToken, PremiumTokensPerSecond),
    };
}
