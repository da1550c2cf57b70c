using Cocoon.Ledger.Data;

namespace Cocoon.Ledger.Accounts;

/// <summary>
/// The ledger operations inside one writer transaction. The operations run in memory, in order, against what the
/// batch read (in one prefetch for what they declared up front, a single-row read for anything else), and their
/// writes are collected and sent at the end (<see cref="Write"/>): the holds closed, the new holds, the entries with
/// their postings, and one net change per account. So a thousand settlements that pay the same provider, the
/// network fee and rounding still write a thousand entries with their own keys and postings, but update each of
/// those shared rows once, locked only for the last statement and the commit. Every operation checks its rules
/// before it changes anything, so a refused operation leaves no trace and the batch commits the others.
/// Reads take no locks: the write re-checks every assumption (a hold still active, a key still free, a balance
/// still covering its holds) and reports false when another writer changed one, and the batch is run again.
/// </summary>
internal sealed class LedgerBatch
{
    private readonly LedgerSql _sql;
    private readonly Dictionary<string, AccountChange> _accounts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, StoredHold?> _holdsById = new(StringComparer.Ordinal);
    private readonly Dictionary<string, StoredHold?> _holdsByKey = new(StringComparer.Ordinal);
    private readonly Dictionary<string, bool> _entryKeys = new(StringComparer.Ordinal);
    private readonly BatchWrites _writes = new();

    public LedgerBatch(LedgerSql sql, long nowMs)
    {
        _sql = sql;
        NowMs = nowMs;
    }

    public long NowMs { get; }

    /// <summary>Reads in one go what the batch's operations declared they will look at (PostgreSQL: one round trip).</summary>
    public void Prefetch(BatchPlan plan)
    {
        if (!_sql.PrefersPrefetch || plan.IsEmpty)
        {
            return;
        }

        _sql.Prefetch(
            [.. plan.Accounts], [.. plan.HoldIds], [.. plan.HoldKeys], [.. plan.EntryKeys],
            (id, balance, held) =>
            {
                var change = Change(new AccountId(id));
                (change.Loaded, change.Exists, change.StoredBalance, change.StoredHeld) = (true, true, balance, held);
            },
            Remember,
            key => _entryKeys[key] = true);

        // What was asked for and not found does not exist (yet): no second read for it.
        foreach (var id in plan.Accounts)
        {
            var change = Change(new AccountId(id));
            if (!change.Loaded)
            {
                (change.Loaded, change.Exists) = (true, false);
            }
        }

        foreach (var id in plan.HoldIds)
        {
            _holdsById.TryAdd(id, null);
        }

        foreach (var key in plan.HoldKeys)
        {
            _holdsByKey.TryAdd(key, null);
        }

        foreach (var key in plan.EntryKeys)
        {
            _entryKeys.TryAdd(key, false);
        }
    }

    public Hold Hold(AccountId payer, long amount, string key, TimeSpan ttl)
    {
        // A retry of a hold that was granted returns it, even if the money has since been spent.
        if (HoldByKey(key) is { } earlier)
        {
            return ToHold(earlier);
        }

        var account = Load(payer);
        if (!AccountRules.AllowsNegative(payer) && account.Available < amount)
        {
            throw new InsufficientFundsException(payer, amount, account.Available);
        }

        // Time-ordered ids keep inserts at the right edge of the primary-key index.
        var id = Guid.CreateVersion7(DateTimeOffset.FromUnixTimeMilliseconds(NowMs));
        var hold = new StoredHold(id.ToString("D"), key, payer.Value, amount, NowMs + (long)ttl.TotalMilliseconds) { IsNew = true };
        Remember(hold);
        _writes.NewHolds.Add(hold);
        account.Held += amount;
        return ToHold(hold);
    }

    public long Settle(Guid holdId, IReadOnlyList<Payee> payees, long charge)
    {
        var hold = HoldById(holdId.ToString("D")) ?? throw new HoldNotFoundException(holdId);
        switch (hold.State)
        {
            case HoldState.Settled:
                return hold.Charged;
            case HoldState.Active when hold.Amount < charge:
                throw new ArgumentException($"The payees sum to {charge} nanotons, more than hold {holdId} reserved ({hold.Amount}).", nameof(payees));
            case HoldState.Active:
                break;
            default:
                throw new HoldClosedException(holdId, hold.State.ToString().ToLowerInvariant());
        }

        if (charge > 0)
        {
            // An active hold has no settlement entry; if a foreign row took the key anyway, the write finds it.
            var key = SettleKey(holdId);
            var postings = new List<(string, long)>(payees.Count + 1) { (hold.Payer, -charge) };
            foreach (var payee in payees)
            {
                if (payee.Amount > 0)
                {
                    postings.Add((payee.Account.Value, payee.Amount));
                    Change(payee.Account).Balance += payee.Amount;
                }
            }

            AddEntry(new EntryWrite(key, "settle", hold.Id, charge, postings));
        }

        Close(hold, HoldState.Settled, charge);
        var payer = Change(new AccountId(hold.Payer));
        payer.Balance -= charge;
        payer.Held -= hold.Amount;
        return charge;
    }

    /// <summary>True when this call released the hold; false if it was already closed.</summary>
    public bool Release(Guid holdId, HoldState state)
    {
        var hold = HoldById(holdId.ToString("D")) ?? throw new HoldNotFoundException(holdId);
        if (hold.State != HoldState.Active)
        {
            return false;
        }

        Close(hold, state, 0);
        Change(new AccountId(hold.Payer)).Held -= hold.Amount;
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
        if (EntryExists(key))
        {
            return false;
        }

        var from = Load(source);
        if (!AccountRules.AllowsNegative(source) && from.Available < amount)
        {
            throw new InsufficientFundsException(source, amount, from.Available);
        }

        AddEntry(new EntryWrite(key, kind, null, amount, [(source.Value, -amount), (account.Value, amount)]));
        from.Balance -= amount;
        Change(account).Balance += amount;
        return true;
    }

    /// <summary>Keeps a verified receipt in the batch's transaction (a request id that has one already keeps it).</summary>
    public bool SaveReceipt(Receipts.ReceiptRecord record)
    {
        _writes.Receipts.Add(record);
        return true;
    }

    /// <summary>
    /// Sends the batch's writes; false when another writer changed something the batch read (the caller rolls
    /// back and runs the batch again).
    /// </summary>
    public bool Write()
    {
        foreach (var (id, change) in _accounts.OrderBy(a => a.Key, StringComparer.Ordinal))
        {
            if (change.Balance != 0 || change.Held != 0 || !change.Exists)
            {
                _writes.Accounts.Add(new AccountWrite(id, AccountRules.AllowsNegative(new AccountId(id)), change.Balance, change.Held));
            }
        }

        return _sql.Write(_writes, NowMs);
    }

    public const string SettleKeyPrefix = "settle:";

    public static string SettleKey(Guid holdId) => SettleKeyPrefix + holdId.ToString("D");

    private static Hold ToHold(StoredHold stored) =>
        new(Guid.Parse(stored.Id), new AccountId(stored.Payer), stored.Amount, DateTimeOffset.FromUnixTimeMilliseconds(stored.ExpiresAtMs));

    private void Close(StoredHold hold, HoldState state, long charged)
    {
        hold.State = state;
        hold.Charged = charged;
        // Only an active hold is closed, so each hold is closed at most once per batch.
        if (!hold.IsNew)
        {
            _writes.Closed.Add(hold);
        }
    }

    private void AddEntry(EntryWrite entry)
    {
        _entryKeys[entry.Key] = true;
        _writes.Entries.Add(entry);
    }

    private void Remember(StoredHold hold)
    {
        _holdsById[hold.Id] = hold;
        _holdsByKey[hold.Key] = hold;
    }

    private StoredHold? HoldById(string id)
    {
        if (!_holdsById.TryGetValue(id, out var hold))
        {
            hold = _sql.HoldById(id);
            if (hold is null)
            {
                _holdsById[id] = null;
            }
            else
            {
                Remember(hold);
            }
        }

        return hold;
    }

    private StoredHold? HoldByKey(string key)
    {
        if (!_holdsByKey.TryGetValue(key, out var hold))
        {
            hold = _sql.HoldByKey(key);
            if (hold is null)
            {
                _holdsByKey[key] = null;
            }
            else if (_holdsById.TryGetValue(hold.Id, out var known) && known is not null)
            {
                hold = known;
            }
            else
            {
                Remember(hold);
            }
        }

        return hold;
    }

    private bool EntryExists(string key)
    {
        if (!_entryKeys.TryGetValue(key, out var exists))
        {
            exists = _sql.EntryExists(key);
            _entryKeys[key] = exists;
        }

        return exists;
    }

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

/// <summary>What a batch's operations will read, declared before they run so that the batch reads it all at once.</summary>
internal sealed class BatchPlan
{
    public HashSet<string> Accounts { get; } = new(StringComparer.Ordinal);

    public HashSet<string> HoldIds { get; } = new(StringComparer.Ordinal);

    public HashSet<string> HoldKeys { get; } = new(StringComparer.Ordinal);

    public HashSet<string> EntryKeys { get; } = new(StringComparer.Ordinal);

    public bool IsEmpty => Accounts.Count + HoldIds.Count + HoldKeys.Count + EntryKeys.Count == 0;

    public void Clear()
    {
        Accounts.Clear();
        HoldIds.Clear();
        HoldKeys.Clear();
        EntryKeys.Clear();
    }
}
