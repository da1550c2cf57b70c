namespace Cocoon.Ledger.Accounts;

/// <summary>An account key such as "user:42" or "network:fee". Amounts everywhere are long nanotons.</summary>
public readonly record struct AccountId(string Value)
{
    public static AccountId User(long telegramUserId) => new($"user:{telegramUserId}");
    public static AccountId ApiKey(string keyId) => new($"apikey:{keyId}");
    public static AccountId Group(long chatId) => new($"group:{chatId}");
    public static AccountId Provider(string providerId) => new($"provider:{providerId}");
    public static AccountId NetworkFee => new("network:fee");
    public static AccountId Rounding => new("network:rounding");
    public static AccountId TonHotWallet => new("network:ton-hot-wallet");
    public static AccountId StarsClearing => new("network:stars-clearing");
    public static AccountId FreeAllowance => new("network:free-allowance");

    public override string ToString() => Value;
}

public sealed record Hold(Guid Id, AccountId Payer, long Amount, DateTimeOffset ExpiresAt);

public sealed record Payee(AccountId Account, long Amount);

public sealed class InsufficientFundsException(AccountId account, long needed, long available)
    : Exception($"Account {account} needs {needed} nanotons but has {available}.")
{
    public AccountId Account { get; } = account;
    public long Needed { get; } = needed;
    public long Available { get; } = available;
}

/// <summary>
/// The small interface the gateway and the bot use. Every call is one balanced journal entry in one transaction;
/// idempotency keys make retries harmless.
/// </summary>
public interface ILedger
{
    /// <summary>Reserves the worst case for a job. Throws InsufficientFundsException.</summary>
    Task<Hold> HoldAsync(AccountId payer, long amount, string idempotencyKey, CancellationToken cancellationToken);

    /// <summary>Charges sum(payees) (at most the hold), pays the payees and releases the rest. Idempotent per hold; returns the amount charged.</summary>
    Task<long> SettleAsync(Guid holdId, IReadOnlyList<Payee> payees, CancellationToken cancellationToken);

    /// <summary>Releases a hold without charging (the job failed). Idempotent.</summary>
    Task ReleaseAsync(Guid holdId, CancellationToken cancellationToken);

    /// <summary>Moves amount from source to account (a deposit, a Stars payment, a free allowance). Idempotent on the key.</summary>
    Task CreditAsync(AccountId account, long amount, AccountId source, string idempotencyKey, CancellationToken cancellationToken);

    /// <summary>Available balance: postings minus active holds.</summary>
    Task<long> GetBalanceAsync(AccountId account, CancellationToken cancellationToken);
}
