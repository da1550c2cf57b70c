using Cocoon.Ledger.Data;

namespace Cocoon.Ledger.Accounts;

/// <summary>
/// The ledger operations inside one writer transaction. Balance changes of the batch are kept per account and
/// written once at the end (<see cref="Flush"/>), so a thousand settlements that pay the same provider update its
/// row once. Every operation checks its rules before it writes anything, so a refused operation leaves no trace
/// and the batch commits the others.
/// </summary>
internal sealed class LedgerBatch
{
    private readonly LedgerSql _sql;
    private readonly Dictionary<string, AccountChange> _accounts = new(StringComparer.Ordinal);

    public LedgerBatch(LedgerSql sql, long nowMs)
    {
        _sql = sql;
        NowMs = nowMs;
    }

    public long NowMs { get; }

    public Hold Hold(AccountId payer, long amount, string key, TimeSpan ttl)
    {
        var account = Load(payer);
        if (!AccountRules.AllowsNegative(payer) && account.Available < amount)
        {
            // A retry of a hold that was granted must return it even if the money has since been spent.
            if (_sql.HoldByKey(key) is { } earlier)
            {
                return ToHold(earlier);
            }

            throw new InsufficientFundsException(payer, amount, account.Available);
        }

        // Time-ordered ids keep inserts at the right edge of the primary-key index.
        var id = Guid.CreateVersion7(DateTimeOffset.FromUnixTimeMilliseconds(NowMs));
        var expiresAtMs = NowMs + (long)ttl.TotalMilliseconds;
        if (!_sql.InsertHold(id.ToString("D"), key, payer.Value, amount, NowMs, expiresAtMs))
        {
            return ToHold(_sql.HoldByKey(key) ?? throw new InvalidOperationException($"Hold key '{key}' conflicted but is not stored."));
        }

        account.Held += amount;
        return new Hold(id, payer, amount, DateTimeOffset.FromUnixTimeMilliseconds(expiresAtMs));
    }

    public long Settle(Guid holdId, IReadOnlyList<Payee> payees, long charge)
    {
        var id = holdId.ToString("D");
        if (_sql.CloseHold(id, HoldState.Settled, charge, NowMs) is not { } closed)
        {
            var stored = _sql.HoldById(id) ?? throw new HoldNotFoundException(holdId);
            return stored.State switch
            {
                HoldState.Settled => stored.Charged,
                HoldState.Active => throw new ArgumentException(
                    $"The payees sum to {charge} nanotons, more than hold {holdId} reserved ({stored.Amount}).", nameof(payees)),
                _ => throw new HoldClosedException(holdId, stored.State.ToString().ToLowerInvariant()),
            };
        }

        if (charge > 0)
        {
            var entryId = _sql.InsertEntry(SettleKey(holdId), "settle", id, charge, NowMs)
                ?? throw new InvalidOperationException($"Hold {holdId} was active but its settlement entry already exists.");
            Span<(string, long)> postings = new (string, long)[payees.Count + 1];
            postings[0] = (closed.Payer, -charge);
            var n = 1;
            foreach (var payee in payees)
            {
                if (payee.Amount > 0)
                {
                    postings[n++] = (payee.Account.Value, payee.Amount);
                }
            }

            _sql.InsertPostings(entryId, postings[..n]);
            foreach (var payee in payees)
            {
                if (payee.Amount > 0)
                {
                    Change(payee.Account).Balance += payee.Amount;
                }
            }
        }

        var payer = Change(new AccountId(closed.Payer));
        payer.Balance -= charge;
        payer.Held -= closed.Amount;
        return charge;
    }

    /// <summary>True when this call released the hold; false if it was already closed.</summary>
    public bool Release(Guid holdId, HoldState state)
    {
        var id = holdId.ToString("D");
        if (_sql.CloseHold(id, state, 0, NowMs) is not { } closed)
        {
            _ = _sql.HoldById(id) ?? throw new HoldNotFoundException(holdId);
            return false;
        }

        Change(new AccountId(closed.Payer)).Held -= closed.Amount;
        return true;
    }

    public int ExpireDue(int limit)
    {
        var released = 0;
        foreach (var id in _sql.DueHolds(NowMs, limit))
        {
            if (Release(Guid.Parse(id), HoldState.Expired))
            {
                released++;
            }
        }

        return released;
    }

    /// <summary>True when credited now; false for a repeated key.</summary>
    public bool Credit(AccountId account, long amount, AccountId source, string key, string kind)
    {
        var from = Load(source);
        if (!AccountRules.AllowsNegative(source) && from.Available < amount)
        {
            if (_sql.EntryExists(key))
            {
                return false;
            }

            throw new InsufficientFundsException(source, amount, from.Available);
        }

        if (_sql.InsertEntry(key, kind, null, amount, NowMs) is not { } entryId)
        {
            return false;
        }

        _sql.InsertPostings(entryId, [(source.Value, -amount), (account.Value, amount)]);
        from.Balance -= amount;
        Change(account).Balance += amount;
        return true;
    }

    /// <summary>Writes the batch's net change of every touched account.</summary>
    public void Flush()
    {
        foreach (var (id, change) in _accounts)
        {
            if (change.Balance != 0 || change.Held != 0 || !change.Exists)
            {
                _sql.UpsertAccount(id, AccountRules.AllowsNegative(new AccountId(id)), change.Balance, change.Held, NowMs);
            }
        }
    }

    public const string SettleKeyPrefix = "settle:";

    public static string SettleKey(Guid holdId) => SettleKeyPrefix + holdId.ToString("D");

    private static Hold ToHold(StoredHold stored) =>
        new(Guid.Parse(stored.Id), new AccountId(stored.Payer), stored.Amount, DateTimeOffset.FromUnixTimeMilliseconds(stored.ExpiresAtMs));

    /// <summary>An account whose stored balance this batch has read (needed to check funds).</summary>
    private AccountChange Load(AccountId account)
    {
        var change = Change(account);
        if (!change.Loaded)
        {
            var stored = _sql.LoadAccount(account.Value);
            change.Loaded = true;
            change.Exists = stored is not null;
            (change.StoredBalance, change.StoredHeld) = stored ?? (0, 0);
        }

        return change;
    }

    private AccountChange Change(AccountId account)
    {
        if (!_accounts.TryGetValue(account.Value, out var change))
        {
            change = new AccountChange();
            _accounts[account.Value] = change;
        }

        return change;
    }

    private sealed class AccountChange
    {
        public bool Loaded { get; set; }

        /// <summary>Unknown accounts are assumed to exist: the upsert creates them if not.</summary>
        public bool Exists { get; set; } = true;

        public long StoredBalance { get; set; }

        public long StoredHeld { get; set; }

        public long Balance { get; set; }

        public long Held { get; set; }

        public long Available => StoredBalance + Balance - (StoredHeld + Held);
    }
}
