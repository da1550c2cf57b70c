namespace Cocoon.Ledger.Data;

/// <summary>
/// A provider's profile and worker-token hash. The payout address and the price override decide who is paid and how
/// much, so they live in the ledger database, not in Redis where workers connect.
/// </summary>
public sealed class ProviderRecord
{
    public required string ProviderId { get; set; }

    public required string Name { get; set; }

    public long? TelegramUserId { get; set; }

    public string? PayoutAddress { get; set; }

    public string? Contact { get; set; }

    public bool Paused { get; set; }

    /// <summary>Price coefficient override for all the provider's workers (1000 = 1.0x); null = each worker's own.</summary>
    public int? PriceCoefficient { get; set; }

    /// <summary>Lower-case hex SHA-256 of the current worker token; unique.</summary>
    public required string TokenSha256 { get; set; }

    public long CreatedAtMs { get; set; }

    /// <summary>Lower-case hex Ed25519 public key the provider signs its workers' keys with; null = none registered.</summary>
    public string? ProviderKey { get; set; }

    /// <summary>Keys the provider replaced, space-separated lower-case hex: workers certified by them are refused.</summary>
    public string? RevokedProviderKeys { get; set; }
}
