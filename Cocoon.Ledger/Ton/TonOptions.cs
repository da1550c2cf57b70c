using System.ComponentModel.DataAnnotations;

namespace Cocoon.Ledger.Ton;

/// <summary>The "Ton" configuration section.</summary>
public sealed class TonOptions : IValidatableObject
{
    public const string Section = "Ton";

    /// <summary>The toncenter base URL (or the local chain's). Required.</summary>
    [Required(ErrorMessage = "Ton:ApiUrl is required: a toncenter URL (e.g. the mainnet or testnet API root), or leave it empty and let './cocoon up' start the local chain.")]
    public Uri? ApiUrl { get; set; }

    /// <summary>Sent as X-API-Key when set.</summary>
    public string? ApiKey { get; set; }

    /// <summary>
    /// The network wallet's secret: 64 hex digits of Ed25519 seed, or its 24-word TON mnemonic. Its v5r1 wallet is the
    /// deposit address and the payout hot wallet.
    /// </summary>
    [Required(ErrorMessage = "Ton:WalletSeed is required: the network wallet's 24-word mnemonic or 64 hex digits of Ed25519 seed (Ton__WalletSeed).")]
    public string? WalletSeed { get; set; }

    /// <summary>-239 mainnet, -3 testnet (part of the v5r1 wallet id).</summary>
    public int NetworkGlobalId { get; set; } = -239;

    public bool Testnet { get; set; }

    [Range(typeof(TimeSpan), "00:00:00.050", "00:10:00", ErrorMessage = "Ton:DepositPollInterval must be between 50 ms and 10 minutes.")]
    public TimeSpan DepositPollInterval { get; set; } = TimeSpan.FromSeconds(5);

    [Range(1, 1000, ErrorMessage = "Ton:DepositPageSize must be 1..1000.")]
    public int DepositPageSize { get; set; } = 50;

    [Range(typeof(TimeSpan), "00:00:00.050", "01:00:00", ErrorMessage = "Ton:PayoutInterval must be between 50 ms and 1 hour.")]
    public TimeSpan PayoutInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a signed payout batch stays valid (its valid_until).</summary>
    [Range(typeof(TimeSpan), "00:00:10", "01:00:00", ErrorMessage = "Ton:PayoutValidity must be between 10 seconds and 1 hour.")]
    public TimeSpan PayoutValidity { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>The smallest payout the bot may request (fees make tiny payouts pointless).</summary>
    [Range(1, long.MaxValue, ErrorMessage = "Ton:MinimumPayout must be positive (nanotons).")]
    public long MinimumPayout { get; set; } = 50_000_000;

    /// <summary>
    /// The provider stake contract (Contracts/Stake, owned by this network wallet), any address form. Empty: stakes
    /// are not read and no worker is refused for its stake (`./cocoon up` deploys one on the local chain and sets it).
    /// </summary>
    public string? StakeContract { get; set; }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (StakeContract is { Length: > 0 } stake && !TonAddress.TryParse(stake, out _))
        {
            yield return new ValidationResult($"Ton:StakeContract '{stake}' is not a TON address (raw 0:hex or user-friendly base64).", [nameof(StakeContract)]);
        }

        if (WalletSeed is { } seed)
        {
            string? error = null;
            try
            {
                WalletKey.FromSecret(seed).Dispose();
            }
            catch (ArgumentException e)
            {
                error = e.Message;
            }

            if (error is not null)
            {
                yield return new ValidationResult($"Ton:WalletSeed must be a 24-word TON mnemonic or 64 hex digits: {error}", [nameof(WalletSeed)]);
            }
        }

        if (ApiUrl is { IsAbsoluteUri: false })
        {
            yield return new ValidationResult("Ton:ApiUrl must be an absolute http(s) URL.", [nameof(ApiUrl)]);
        }
    }
}
