using Cocoon.Ledger.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Cocoon.Ledger.Accounts;

/// <summary>
/// The double-entry ledger. Writes go through one group-committing writer (see <see cref="LedgerWriter"/>);
/// reads use their own connections (SQLite in WAL mode lets them run beside the writer).
/// </summary>
public sealed class JournalLedger : ILedger, ILedgerAccounts, IAsyncDisposable
{
    // Per instance, not static: a compiled query belongs to one model, and SQLite and PostgreSQL models differ.
    private readonly Func<LedgerDbContext, string, CancellationToken, Task<AccountBalanceRow?>> _balanceQuery =
        EF.CompileAsyncQuery((LedgerDbContext db, string id, CancellationToken ct) =>
            db.Accounts.AsNoTracking().Where(a => a.Id == id).Select(a => new AccountBalanceRow(a.Balance, a.Held)).FirstOrDefault());

    private readonly LedgerDatabase _database;
    private readonly TimeProvider _time;
    private readonly LedgerOptions _options;
    private readonly LedgerWriter _writer;

    public JournalLedger(LedgerDatabase database, IOptions<LedgerOptions> options, TimeProvider time, ILogger<JournalLedger> logger)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(options);
        _database = database;
        _options = options.Value;
        _time = time ?? TimeProvider.System;
        _writer = new LedgerWriter(database, _options.MaxBatch, _time, logger ?? (ILogger)NullLogger.Instance);
    }

    public LedgerDatabase Database => _database;

    internal WriterStats WriterStats => _writer.Stats;

    /// <summary>The benchmark's comparison only: lock the accounts a batch reads until its commit (PostgreSQL).</summary>
    internal bool LockAccountsOnRead
    {
        get => _writer.LockOnRead;
        set => _writer.LockOnRead = value;
    }

    /// <summary>Tests only: called between a batch's writes and its commit with the writer's connection (a crash goes there).</summary>
    internal Action<System.Data.Common.DbConnection>? BeforeCommit
    {
        get => _writer.BeforeCommit;
        set => _writer.BeforeCommit = value;
    }

    public Task<Hold> HoldAsync(AccountId payer, long amount, string idempotencyKey, CancellationToken cancellationToken)
    {
        Require(payer, nameof(payer));
        ArgumentOutOfRangeException.ThrowIfNegative(amount);
        ArgumentException.ThrowIfNullOrWhiteSpace(idempotencyKey);
        var ttl = _options.HoldTtl;
        return _writer.Run(
            batch => batch.Hold(payer, amount, idempotencyKey, ttl),
            plan =>
            {
                plan.HoldKeys.Add(idempotencyKey);
                plan.Accounts.Add(payer.Value);
            },
            cancellationToken);
    }

    public Task<long> SettleAsync(Guid holdId, IReadOnlyList<Payee> payees, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(payees);
        long charge = 0;
        foreach (var payee in payees)
        {
            ArgumentNullException.ThrowIfNull(payee, nameof(payees));
            Require(payee.Account, nameof(payees));
            if (payee.Amount < 0)
            {
                throw new ArgumentException($"Payee {payee.Account} has a negative amount ({payee.Amount}).", nameof(payees));
            }

            charge = checked(charge + payee.Amount);
        }

        var copy = payees.ToArray();
        return _writer.Run(batch => batch.Settle(holdId, copy, charge), plan => plan.HoldIds.Add(holdId.ToString("D")), cancellationToken);
    }

    public Task ReleaseAsync(Guid holdId, CancellationToken cancellationToken) =>
        _writer.Run(batch => batch.Release(holdId, HoldState.Released), plan => plan.HoldIds.Add(holdId.ToString("D")), cancellationToken);

    public Task CreditAsync(AccountId account, long amount, AccountId source, string idempotencyKey, CancellationToken cancellationToken) =>
        CreditCoreAsync(account, amount, source, idempotencyKey, "credit", cancellationToken);

    public Task<bool> EnsureFreeAllowanceAsync(AccountId account, long amount, CancellationToken cancellationToken) =>
        CreditCoreAsync(account, amount, AccountId.FreeAllowance, "free-allowance:" + account.Value, "free-allowance", cancellationToken);

    /// <summary>
    /// Keeps a verified receipt (<see cref="Receipts.ReceiptStore.SaveAsync"/>) in the writer's next group commit, beside
    /// the holds and settlements of other requests: one transaction and one connection for all of them, rather than a
    /// context, a connection and a transaction of its own per answer (which also waited for the writer's lock on SQLite).
    /// Completes once committed, like every ledger operation.
    /// </summary>
    public Task SaveReceiptAsync(Receipts.ReceiptRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        return _writer.Run(batch => batch.SaveReceipt(record), cancellationToken);
    }

    public Task<int> ExpireHoldsAsync(CancellationToken cancellationToken) =>
        _writer.Run(batch => batch.ExpireDue(limit: 1000), cancellationToken);

    public async Task<long> GetBalanceAsync(AccountId account, CancellationToken cancellationToken) =>
        (await GetAccountAsync(account, cancellationToken)).Available;

    public async Task<AccountBalance> GetAccountAsync(AccountId account, CancellationToken cancellationToken)
    {
        Require(account, nameof(account));
        await _database.MigrateAsync(cancellationToken);
        await using var db = _database.CreateContext();
        var row = await _balanceQuery(db, account.Value, cancellationToken);
        return new AccountBalance(account, row?.Balance ?? 0, row?.Held ?? 0);
    }

    public async Task<IReadOnlyList<StatementLine>> GetRecentEntriesAsync(AccountId account, int limit, CancellationToken cancellationToken)
    {
        Require(account, nameof(account));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        await _database.MigrateAsync(cancellationToken);
        await using var db = _database.CreateContext();
        var id = account.Value;
        var entryIds = await db.Postings.AsNoTracking()
            .Where(p => p.AccountId == id)
            .Select(p => p.EntryId)
            .Distinct()
            .OrderByDescending(e => e)
            .Take(limit)
            .ToListAsync(cancellationToken);
        var rows = await db.Entries.AsNoTracking()
            .Where(e => entryIds.Contains(e.Id))
            .Select(e => new { e.Id, e.Kind, e.IdempotencyKey, e.CreatedAtMs, Amount = db.Postings.Where(p => p.EntryId == e.Id && p.AccountId == id).Sum(p => p.Amount) })
            .ToListAsync(cancellationToken);
        return rows
            .OrderByDescending(r => r.Id)
            .Select(r => new StatementLine(r.Id, DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAtMs), r.Kind, r.Amount, r.IdempotencyKey))
            .ToList();
    }

    public async Task<AccountActivity> GetActivitySinceAsync(AccountId account, DateTimeOffset since, CancellationToken cancellationToken)
    {
        Require(account, nameof(account));
        await _database.MigrateAsync(cancellationToken);
        await using var db = _database.CreateContext();
        var id = account.Value;
        var sinceMs = since.ToUnixTimeMilliseconds();
        var postings = db.Postings.AsNoTracking()
            .Where(p => p.AccountId == id && db.Entries.Any(e => e.Id == p.EntryId && e.CreatedAtMs >= sinceMs));
        var received = await postings.Where(p => p.Amount > 0).SumAsync(p => p.Amount, cancellationToken);
        var spent = await postings.Where(p => p.Amount < 0).SumAsync(p => -p.Amount, cancellationToken);
        var entries = await postings.Select(p => p.EntryId).Distinct().CountAsync(cancellationToken);
        return new AccountActivity(account, since, received, spent, entries);
    }

    public ValueTask DisposeAsync() => _writer.DisposeAsync();

    private Task<bool> CreditCoreAsync(AccountId account, long amount, AccountId source, string key, string kind, CancellationToken cancellationToken)
    {
        Require(account, nameof(account));
        Require(source, nameof(source));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(amount);
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        if (account == source)
        {
            throw new ArgumentException($"Cannot credit {account} from itself.", nameof(source));
        }

        if (key.StartsWith(LedgerBatch.SettleKeyPrefix, StringComparison.Ordinal))
        {
            throw new ArgumentException($"Idempotency keys starting with '{LedgerBatch.SettleKeyPrefix}' belong to settlements.", nameof(key));
        }

        return _writer.Run(
            batch => batch.Credit(account, amount, source, key, kind),
            plan =>
            {
                plan.EntryKeys.Add(key);
                plan.Accounts.Add(source.Value);
            },
            cancellationToken);
    }

    private static void Require(AccountId account, string name)
    {
        if (string.IsNullOrWhiteSpace(account.Value))
        {
            throw new ArgumentException("The account id is empty.", name);
        }
    }

    private sealed record AccountBalanceRow(long Balance, long Held);
}
