namespace Cocoon.Ledger;

/// <summary>
/// The one registry of this project's log event ids (5000–5999): each feature owns a block of ids and its
/// [LoggerMessage] attributes use <c>EventId = LogEvents.Feature + n</c>, so an id is unique across the project at a
/// glance, and a test checks that every id across all projects is unique and inside its project's range.
/// </summary>
internal static class LogEvents
{
    public const int First = 5000;

    public const int Last = 5999;

    /// <summary>Periodic background services (PeriodicService.cs).</summary>
    public const int Services = 5000;

    /// <summary>The group-committing ledger writer (Accounts/LedgerWriter.cs).</summary>
    public const int Writer = 5100;

    /// <summary>Hold expiry (Accounts/HoldExpiryService.cs).</summary>
    public const int Holds = 5150;

    /// <summary>TON deposits (Deposits/DepositProcessor.cs).</summary>
    public const int Deposits = 5200;

    /// <summary>TON payouts (Payouts/PayoutSender.cs).</summary>
    public const int Payouts = 5300;

    /// <summary>Receipt roots anchored on TON (Receipts/ReceiptRootCommitter.cs).</summary>
    public const int Receipts = 5400;

    /// <summary>Provider stakes and slashes on the stake contract (Stake/).</summary>
    public const int Stake = 5500;

    /// <summary>The development-only local chain (LocalChain/LocalChainProcess.cs).</summary>
    public const int LocalChain = 5900;
}
