namespace Cocoon.Ledger.Accounts;

/// <summary>The hold id is not in the ledger.</summary>
public sealed class HoldNotFoundException(Guid holdId)
    : Exception($"Hold {holdId} does not exist in the ledger.")
{
    public Guid HoldId { get; } = holdId;
}

/// <summary>
/// A settlement arrived for a hold that was already released (by the caller or because it expired):
/// the release won, nothing was charged. Raise Ledger:HoldTtl if jobs outlive it.
/// </summary>
public sealed class HoldClosedException(Guid holdId, string state)
    : Exception($"Hold {holdId} was already {state}; nothing was charged.")
{
    public Guid HoldId { get; } = holdId;

    public string State { get; } = state;
}
