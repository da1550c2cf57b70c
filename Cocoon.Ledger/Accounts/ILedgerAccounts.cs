namespace Cocoon.Ledger.Accounts;

/// <summary>A balance as the ledger holds it.</summary>
public sealed record AccountBalance(AccountId Account, long Posted, long Held)
{
    /// <summary>What the account can spend: postings minus active holds.</summary>
    public long Available => Posted - Held;
}

/// <summary>One journal entry as seen from one account: Amount is this account's net change (negative = spent).</summary>
public sealed record StatementLine(long EntryId, DateTimeOffset At, string Kind, long Amount, string Reference);

/// <summary>Money in and out of one account since a time.</summary>
public sealed record AccountActivity(AccountId Account, DateTimeOffset Since, long Received, long Spent, int Entries);

/// <summary>
/// What the bot needs beside <see cref="ILedger"/>: the free allowance and the small reports for /usage and
/// /provider earnings. Implemented by the same ledger.
/// </summary>
public interface ILedgerAccounts
{
    /// <summary>Grants the free allowance once per account (from network:free-allowance). True when granted now, false if it was granted before.</summary>
    Task<bool> EnsureFreeAllowanceAsync(AccountId account, long amount, CancellationToken cancellationToken);

    Task<AccountBalance> GetAccountAsync(AccountId account, CancellationToken cancellationToken);

    /// <summary>The newest entries touching the account, newest first.</summary>
    Task<IReadOnlyList<StatementLine>> GetRecentEntriesAsync(AccountId account, int limit, CancellationToken cancellationToken);

    /// <summary>Sums of the account's credits and debits since a time (provider earnings, user spend).</summary>
    Task<AccountActivity> GetActivitySinceAsync(AccountId account, DateTimeOffset since, CancellationToken cancellationToken);

    /// <summary>Releases every hold past its expiry; returns how many. The background sweeper calls it.</summary>
    Task<int> ExpireHoldsAsync(CancellationToken cancellationToken);
}

/// <summary>Which accounts may go below zero: only the network's sources of money.</summary>
public static class AccountRules
{
    public static bool AllowsNegative(AccountId account) =>
        account == AccountId.TonHotWallet || account == AccountId.StarsClearing || account == AccountId.FreeAllowance;
}
