namespace Cocoon.Ledger.Data;

/// <summary>
/// An API key of the /v1 API, stored only as SHA-256 of the key: who pays for calls made with it is authorization and
/// money state, so it lives in the ledger database beside the accounts, not in Redis where workers connect.
/// </summary>
public sealed class ApiKeyRecord
{
    /// <summary>The key's public id (what /apikey lists and revokes).</summary>
    public required string KeyId { get; set; }

    /// <summary>Lower-case hex SHA-256 of the key; unique.</summary>
    public required string KeySha256 { get; set; }

    /// <summary>The paying account.</summary>
    public required string Owner { get; set; }

    public long CreatedAtMs { get; set; }
}
