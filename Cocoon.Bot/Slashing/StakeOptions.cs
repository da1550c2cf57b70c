using System.ComponentModel.DataAnnotations;
using Cocoon.Engine.Matching;
using Cocoon.Engine.Slashing;

namespace Cocoon.Bot.Slashing;

/// <summary>
/// Configuration section "Gateway:Stake": which workers need a provider stake to be matched, how much, and what a
/// proven fault costs (<see cref="SlashingPolicy"/>). Stakes are only read when Ton:StakeContract names a contract;
/// without one no worker is refused for its stake and nothing is slashed (logged once at start).
/// </summary>
public sealed class StakeOptions : IValidatableObject
{
    public const string Section = "Gateway:Stake";

    /// <summary>
    /// Trust tiers whose workers need a staked provider; unset: tee and consumer (<see cref="StakedTiers"/>). Not
    /// simulated by default: that tier is for development (`./cocoon up`'s local workers), whose provider has no wallet
    /// to stake from. A list given here replaces the default; Minimum=0 turns the requirement off.
    /// </summary>
    public string[]? Tiers { get; set; }

    /// <summary>The tiers that need stake: <see cref="Tiers"/> when set, else tee and consumer.</summary>
    public IReadOnlyList<string> StakedTiers => Tiers is { Length: > 0 } tiers ? tiers : [TrustTiers.Tee, TrustTiers.Consumer];

    /// <summary>The stake (nanotons, bonded, not counting a pending withdrawal) a provider needs for any job in a staked tier.</summary>
    [Range(0, long.MaxValue, ErrorMessage = "Gateway:Stake:Minimum must be 0 or more nanotons.")]
    public long Minimum { get; set; } = new SlashingPolicy().MinimumStake;

    /// <summary>The stake a standard-class job needs of its worker's provider (at least <see cref="Minimum"/>).</summary>
    [Range(0, long.MaxValue, ErrorMessage = "Gateway:Stake:StandardMinimum must be 0 or more nanotons.")]
    public long StandardMinimum { get; set; } = 20_000_000_000;

    /// <summary>The stake a premium-class job needs of its worker's provider (at least <see cref="Minimum"/>).</summary>
    [Range(0, long.MaxValue, ErrorMessage = "Gateway:Stake:PremiumMinimum must be 0 or more nanotons.")]
    public long PremiumMinimum { get; set; } = 50_000_000_000;

    /// <summary>How long a stake read from the chain is trusted before it is read again.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00", ErrorMessage = "Gateway:Stake:CacheTtl must be between 0 and 1 hour.")]
    public TimeSpan CacheTtl { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often pending slashes are pushed on towards the chain.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:10:00", ErrorMessage = "Gateway:Stake:SlashInterval must be between 50 ms and 10 minutes.")]
    public TimeSpan SlashInterval { get; set; } = TimeSpan.FromSeconds(5);

    [Range(0.0, 1.0, ErrorMessage = "Gateway:Stake:Share must be between 0 and 1 (the share of the stake a proven fault takes).")]
    public double Share { get; set; } = new SlashingPolicy().Share;

    [Range(0.0, 1.0, ErrorMessage = "Gateway:Stake:ReceiptShare must be between 0 and 1 (the share a receipt overclaim takes).")]
    public double ReceiptShare { get; set; } = new SlashingPolicy().ReceiptShare;

    [Range(0, long.MaxValue, ErrorMessage = "Gateway:Stake:MinimumSlash must be 0 or more nanotons.")]
    public long MinimumSlash { get; set; } = new SlashingPolicy().MinimumSlash;

    [Range(0.0, 1.0, ErrorMessage = "Gateway:Stake:UserShare must be between 0 and 1 (the part of a slash refunded to the affected user).")]
    public double UserShare { get; set; } = new SlashingPolicy().UserShare;

    public SlashingPolicy Policy() => new()
    {
        Share = Share,
        ReceiptShare = ReceiptShare,
        MinimumSlash = MinimumSlash,
        UserShare = UserShare,
        MinimumStake = Minimum,
    };

    /// <summary>The stake a job of this class needs in a staked tier.</summary>
    public long Required(SlaClass sla) => sla switch
    {
        SlaClass.Premium => Math.Max(Minimum, PremiumMinimum),
        SlaClass.Standard => Math.Max(Minimum, StandardMinimum),
        _ => Minimum,
    };

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var tier in StakedTiers)
        {
            if (!TrustTiers.All.Contains(tier))
            {
                yield return new ValidationResult($"Gateway:Stake:Tiers has '{tier}', which is not a trust tier: use tee, simulated or consumer.", [nameof(Tiers)]);
            }
        }
    }
}
