using System.Data.Common;
using Cocoon.Ledger.Data;
using Npgsql;

namespace Cocoon.Ledger.Accounts;

/// <summary>
/// The writer's statements. Reads that a batch misses in its prefetch are single-row statements prepared once per
/// connection (plain SQL that SQLite 3.35+ and PostgreSQL both accept). The batch's writes are set-based: on
/// PostgreSQL each kind of write is one statement over arrays (unnest) for the whole batch, sent together in one
/// round trip; on SQLite, where a statement is a function call, the same rows go through one prepared statement each.
/// Every write reports whether every row landed as the batch planned it (a hold still active, a key still free, a
/// balance still covering its holds); when one did not, another writer got there first and the batch is re-run.
/// </summary>
internal sealed class LedgerSql : IDisposable
{
    private const string A = "\"" + LedgerTables.Accounts + "\"";
    private const string E = "\"" + LedgerTables.Entries + "\"";
    private const string P = "\"" + LedgerTables.Postings + "\"";
    private const string H = "\"" + LedgerTables.Holds + "\"";
    private const string R = "\"" + LedgerTables.Receipts + "\"";
    private const string HoldColumns = "\"Id\", \"IdempotencyKey\", \"Payer\", \"Amount\", \"State\", \"Charged\", \"CreatedAtMs\", \"ExpiresAtMs\"";

    /// <summary>
    /// An account change may only leave the account covering its holds, unless the account may go negative or the
    /// change does not lower what it can spend (a settlement releases more than it charges).
    /// </summary>
    private const string Covered =
        $"{A}.\"AllowNegative\" OR {A}.\"Balance\" + excluded.\"Balance\" - {A}.\"Held\" - excluded.\"Held\" >= 0 OR excluded.\"Balance\" - excluded.\"Held\" >= 0";

    private readonly DbConnection _connection;
    private readonly LedgerProvider _provider;
    private readonly Dictionary<string, DbCommand> _commands = new(StringComparer.Ordinal);
    private DbTransaction? _transaction;

    public LedgerSql(DbConnection connection, LedgerProvider provider)
    {
        _connection = connection;
        _provider = provider;
    }

    /// <summary>
    /// PostgreSQL, for the benchmark's comparison only: lock the accounts a batch reads (FOR UPDATE, in id order) until
    /// its commit, as the writer did before it re-checked balances in the write instead.
    /// </summary>
    public bool LockOnRead { get; init; }

    private string AccountLock => LockOnRead && _provider == LedgerProvider.Postgres ? " FOR UPDATE" : "";

    /// <summary>True when the batch's reads are worth sending together up front (a network round trip each otherwise).</summary>
    public bool PrefersPrefetch => _provider == LedgerProvider.Postgres;

    public DbTransaction Begin()
    {
        _transaction = _connection.BeginTransaction();
        return _transaction;
    }

    /// <summary>The posted balance and active holds of an account (no lock: the write re-checks them).</summary>
    public (long Balance, long Held)? LoadAccount(string id)
    {
        var cmd = Get("load-account", $"SELECT \"Balance\", \"Held\" FROM {A} WHERE \"Id\" = @id{AccountLock}", "id");
        Set(cmd, 0, id);
        using var reader = cmd.ExecuteReader();
        return reader.Read() ? (reader.GetInt64(0), reader.GetInt64(1)) : null;
    }

    public StoredHold? HoldByKey(string key) => ReadHold("hold-by-key", "IdempotencyKey", key);

    public StoredHold? HoldById(string id) => ReadHold("hold-by-id", "Id", id);

    public bool EntryExists(string key)
    {
        var cmd = Get("entry-exists", $"SELECT 1 FROM {E} WHERE \"IdempotencyKey\" = @key", "key");
        Set(cmd, 0, key);
        return cmd.ExecuteScalar() is not null;
    }

    /// <summary>Active holds whose time is up, oldest first.</summary>
    public List<string> DueHolds(long nowMs, int limit)
    {
        var cmd = Get("due-holds",
            $"SELECT \"Id\" FROM {H} WHERE \"State\" = 0 AND \"ExpiresAtMs\" <= @now ORDER BY \"ExpiresAtMs\" LIMIT @limit",
            "now", "limit");
        Set(cmd, 0, nowMs);
        Set(cmd, 1, limit);
        var ids = new List<string>();
        using var reader = cmd.ExecuteReader();
        while (reader.Read())
        {
            ids.Add(reader.GetString(0));
        }

        return ids;
    }

    /// <summary>PostgreSQL: the accounts, holds and entry keys a batch declared, in one round trip.</summary>
    public void Prefetch(
        string[] accounts, string[] holdIds, string[] holdKeys, string[] entryKeys,
        Action<string, long, long> account, Action<StoredHold> hold, Action<string> entry)
    {
        using var batch = new NpgsqlBatch((NpgsqlConnection)_connection, (NpgsqlTransaction?)_transaction);
        var kinds = new List<int>(3);
        if (accounts.Length > 0)
        {
            batch.BatchCommands.Add(Command($"SELECT \"Id\", \"Balance\", \"Held\" FROM {A} WHERE \"Id\" = ANY($1) ORDER BY \"Id\"{AccountLock}", (object)accounts));
            kinds.Add(0);
        }

        if (holdIds.Length + holdKeys.Length > 0)
        {
            batch.BatchCommands.Add(Command($"SELECT {HoldColumns} FROM {H} WHERE \"Id\" = ANY($1) OR \"IdempotencyKey\" = ANY($2)", holdIds, holdKeys));
            kinds.Add(1);
        }

        if (entryKeys.Length > 0)
        {
            batch.BatchCommands.Add(Command($"SELECT \"IdempotencyKey\" FROM {E} WHERE \"IdempotencyKey\" = ANY($1)", (object)entryKeys));
            kinds.Add(2);
        }

        if (kinds.Count == 0)
        {
            return;
        }

        using var reader = batch.ExecuteReader();
        foreach (var kind in kinds)
        {
            while (reader.Read())
            {
                switch (kind)
                {
                    case 0:
                        account(reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2));
                        break;
                    case 1:
                        hold(ReadHold(reader));
                        break;
                    default:
                        entry(reader.GetString(0));
                        break;
                }
            }

            reader.NextResult();
        }
    }

    /// <summary>
    /// Writes a batch: closes the holds it closed (only if still active), inserts its new holds and its entries with
    /// their postings (only if their keys are still free), and last adds its net change to every account, in one
    /// sorted order (so two writers lock shared rows the same way round and never deadlock on them; the rows stay
    /// locked only from this statement to the commit) and only where the account still covers its holds.
    /// False when any row did not land: another writer changed what the batch read.
    /// </summary>
    public bool Write(BatchWrites writes, long nowMs) => _provider == LedgerProvider.Postgres
        ? WritePostgres(writes, nowMs)
        : WriteSqlite(writes, nowMs);

    public void Dispose()
    {
        foreach (var command in _commands.Values)
        {
            command.Dispose();
        }

        _commands.Clear();
    }

    private bool WritePostgres(BatchWrites w, long nowMs)
    {
        using var batch = new NpgsqlBatch((NpgsqlConnection)_connection, (NpgsqlTransaction?)_transaction);
        var expected = new List<long>(5);
        if (w.Closed.Count > 0)
        {
            batch.BatchCommands.Add(Command(
                $"UPDATE {H} SET \"State\" = v.s, \"Charged\" = v.c, \"Released\" = {H}.\"Amount\" - v.c, \"ClosedAtMs\" = $4 " +
                $"FROM unnest($1::text[], $2::int[], $3::bigint[]) AS v(id, s, c) WHERE {H}.\"Id\" = v.id AND {H}.\"State\" = 0",
                w.Closed.Select(h => h.Id).ToArray(), w.Closed.Select(h => (int)h.State).ToArray(), w.Closed.Select(h => h.Charged).ToArray(), nowMs));
            expected.Add(w.Closed.Count);
        }

        if (w.NewHolds.Count > 0)
        {
            var closedAt = w.NewHolds.Select(h => h.State == HoldState.Active ? (long?)null : nowMs).ToArray();
            batch.BatchCommands.Add(Command(
                $"INSERT INTO {H} (\"Id\", \"IdempotencyKey\", \"Payer\", \"Amount\", \"State\", \"Charged\", \"Released\", \"CreatedAtMs\", \"ExpiresAtMs\", \"ClosedAtMs\") " +
                "SELECT id, k, p, a, s, c, CASE WHEN s = 0 THEN 0 ELSE a - c END, $8, e, x " +
                "FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::int[], $6::bigint[], $7::bigint[], $9::bigint[]) AS v(id, k, p, a, s, c, e, x) " +
                "ON CONFLICT (\"IdempotencyKey\") DO NOTHING",
                w.NewHolds.Select(h => h.Id).ToArray(), w.NewHolds.Select(h => h.Key).ToArray(), w.NewHolds.Select(h => h.Payer).ToArray(),
                w.NewHolds.Select(h => h.Amount).ToArray(), w.NewHolds.Select(h => (int)h.State).ToArray(), w.NewHolds.Select(h => h.Charged).ToArray(),
                w.NewHolds.Select(h => h.ExpiresAtMs).ToArray(), nowMs, closedAt));
            expected.Add(w.NewHolds.Count);
        }

        var postingsCommand = -1;
        if (w.Entries.Count > 0)
        {
            var postings = w.Entries.SelectMany(e => e.Postings.Select(p => (e.Key, p.Account, p.Amount))).ToArray();
            batch.BatchCommands.Add(Command(
                $"WITH e AS (INSERT INTO {E} (\"IdempotencyKey\", \"Kind\", \"HoldId\", \"Amount\", \"CreatedAtMs\") " +
                "SELECT k, kd, h, a, $5 FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) WITH ORDINALITY AS v(k, kd, h, a, n) ORDER BY n " +
                "ON CONFLICT (\"IdempotencyKey\") DO NOTHING RETURNING \"Id\", \"IdempotencyKey\"), " +
                $"p AS (INSERT INTO {P} (\"EntryId\", \"AccountId\", \"Amount\") " +
                "SELECT e.\"Id\", v.acc, v.amt FROM unnest($6::text[], $7::text[], $8::bigint[]) AS v(k, acc, amt) JOIN e ON e.\"IdempotencyKey\" = v.k RETURNING 1) " +
                "SELECT (SELECT count(*) FROM e) + (SELECT count(*) FROM p)",
                w.Entries.Select(e => e.Key).ToArray(), w.Entries.Select(e => e.Kind).ToArray(), w.Entries.Select(e => e.HoldId).ToArray(),
                w.Entries.Select(e => e.Amount).ToArray(), nowMs,
                postings.Select(p => p.Key).ToArray(), postings.Select(p => p.Account).ToArray(), postings.Select(p => p.Amount).ToArray()));
            postingsCommand = batch.BatchCommands.Count - 1;
            expected.Add(w.Entries.Count + postings.Length);
        }

        if (w.Accounts.Count > 0)
        {
            // ORDER BY makes the upsert take the row locks in that order (INSERT ... SELECT handles rows in the
            // SELECT's order); every writer uses this one statement, so shared rows are always locked the same way round.
            batch.BatchCommands.Add(Command(
                $"INSERT INTO {A} (\"Id\", \"AllowNegative\", \"Balance\", \"Held\", \"CreatedAtMs\") " +
                "SELECT id, neg, b, h, $5 FROM unnest($1::text[], $2::bool[], $3::bigint[], $4::bigint[]) AS v(id, neg, b, h) ORDER BY id " +
                $"ON CONFLICT (\"Id\") DO UPDATE SET \"Balance\" = {A}.\"Balance\" + excluded.\"Balance\", \"Held\" = {A}.\"Held\" + excluded.\"Held\" WHERE {Covered}",
                w.Accounts.Select(a => a.Id).ToArray(), w.Accounts.Select(a => a.AllowNegative).ToArray(),
                w.Accounts.Select(a => a.Balance).ToArray(), w.Accounts.Select(a => a.Held).ToArray(), nowMs));
            expected.Add(w.Accounts.Count);
        }

        var receiptsCommand = -1;
        if (w.Receipts.Count > 0)
        {
            // A receipt already kept for its request id is left as it is: no row count to check.
            batch.BatchCommands.Add(Command(
                $"INSERT INTO {R} (\"RequestId\", \"Payer\", \"WorkerId\", \"SignedReceiptJson\", \"AttestationJson\", \"ChargedNanotons\", \"CreatedAtMs\") " +
                "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[]) ON CONFLICT (\"RequestId\") DO NOTHING",
                w.Receipts.Select(r => r.RequestId).ToArray(), w.Receipts.Select(r => r.Payer).ToArray(), w.Receipts.Select(r => r.WorkerId).ToArray(),
                w.Receipts.Select(r => r.SignedReceiptJson).ToArray(), w.Receipts.Select(r => r.AttestationJson).ToArray(),
                w.Receipts.Select(r => r.ChargedNanotons).ToArray(), w.Receipts.Select(r => r.CreatedAtMs).ToArray()));
            receiptsCommand = batch.BatchCommands.Count - 1;
            expected.Add(-1);
        }

        if (batch.BatchCommands.Count == 0)
        {
            return true;
        }

        // Only the entries' statement returns a row (Npgsql's reader passes over the others).
        long landed = -1;
        using (var reader = batch.ExecuteReader())
        {
            do
            {
                if (reader.FieldCount > 0 && reader.Read())
                {
                    landed = reader.GetInt64(0);
                }
            }
            while (reader.NextResult());
        }

        if (postingsCommand >= 0 && landed != expected[postingsCommand])
        {
            return false;
        }

        for (var i = 0; i < batch.BatchCommands.Count; i++)
        {
            if (i != postingsCommand && i != receiptsCommand && batch.BatchCommands[i].RecordsAffected != expected[i])
            {
                return false;
            }
        }

        return true;
    }

    private bool WriteSqlite(BatchWrites w, long nowMs)
    {
        foreach (var hold in w.Closed)
        {
            var cmd = Get("close-hold",
                $"UPDATE {H} SET \"State\" = @state, \"Charged\" = @charged, \"Released\" = \"Amount\" - @charged, \"ClosedAtMs\" = @now " +
                "WHERE \"Id\" = @id AND \"State\" = 0",
                "state", "charged", "now", "id");
            Set(cmd, 0, (int)hold.State);
            Set(cmd, 1, hold.Charged);
            Set(cmd, 2, nowMs);
            Set(cmd, 3, hold.Id);
            if (cmd.ExecuteNonQuery() != 1)
            {
                return false;
            }
        }

        foreach (var hold in w.NewHolds)
        {
            var cmd = Get("insert-hold",
                $"INSERT INTO {H} (\"Id\", \"IdempotencyKey\", \"Payer\", \"Amount\", \"State\", \"Charged\", \"Released\", \"CreatedAtMs\", \"ExpiresAtMs\", \"ClosedAtMs\") " +
                "VALUES (@id, @key, @payer, @amount, @state, @charged, @released, @now, @exp, @closed) ON CONFLICT (\"IdempotencyKey\") DO NOTHING",
                "id", "key", "payer", "amount", "state", "charged", "released", "now", "exp", "closed");
            var closed = hold.State != HoldState.Active;
            Set(cmd, 0, hold.Id);
            Set(cmd, 1, hold.Key);
            Set(cmd, 2, hold.Payer);
            Set(cmd, 3, hold.Amount);
            Set(cmd, 4, (int)hold.State);
            Set(cmd, 5, hold.Charged);
            Set(cmd, 6, closed ? hold.Amount - hold.Charged : 0);
            Set(cmd, 7, nowMs);
            Set(cmd, 8, hold.ExpiresAtMs);
            Set(cmd, 9, closed ? nowMs : null);
            if (cmd.ExecuteNonQuery() != 1)
            {
                return false;
            }
        }

        foreach (var entry in w.Entries)
        {
            var cmd = Get("insert-entry",
                $"INSERT INTO {E} (\"IdempotencyKey\", \"Kind\", \"HoldId\", \"Amount\", \"CreatedAtMs\") VALUES (@key, @kind, @hold, @amount, @now) " +
                "ON CONFLICT (\"IdempotencyKey\") DO NOTHING RETURNING \"Id\"",
                "key", "kind", "hold", "amount", "now");
            Set(cmd, 0, entry.Key);
            Set(cmd, 1, entry.Kind);
            Set(cmd, 2, entry.HoldId);
            Set(cmd, 3, entry.Amount);
            Set(cmd, 4, nowMs);
            long entryId;
            using (var reader = cmd.ExecuteReader())
            {
                if (!reader.Read())
                {
                    return false;
                }

                entryId = reader.GetInt64(0);
            }

            InsertPostings(entryId, entry.Postings);
        }

        foreach (var account in w.Accounts)
        {
            var cmd = Get("upsert-account",
                $"INSERT INTO {A} (\"Id\", \"AllowNegative\", \"Balance\", \"Held\", \"CreatedAtMs\") VALUES (@id, @neg, @b, @h, @now) " +
                $"ON CONFLICT (\"Id\") DO UPDATE SET \"Balance\" = {A}.\"Balance\" + excluded.\"Balance\", \"Held\" = {A}.\"Held\" + excluded.\"Held\" WHERE {Covered}",
                "id", "neg", "b", "h", "now");
            Set(cmd, 0, account.Id);
            Set(cmd, 1, account.AllowNegative);
            Set(cmd, 2, account.Balance);
            Set(cmd, 3, account.Held);
            Set(cmd, 4, nowMs);
            if (cmd.ExecuteNonQuery() != 1)
            {
                return false;
            }
        }

        foreach (var receipt in w.Receipts)
        {
            // A receipt already kept for its request id is left as it is.
            var cmd = Get("insert-receipt",
                $"INSERT INTO {R} (\"RequestId\", \"Payer\", \"WorkerId\", \"SignedReceiptJson\", \"AttestationJson\", \"ChargedNanotons\", \"CreatedAtMs\") " +
                "VALUES (@id, @payer, @worker, @receipt, @attestation, @charged, @at) ON CONFLICT (\"RequestId\") DO NOTHING",
                "id", "payer", "worker", "receipt", "attestation", "charged", "at");
            Set(cmd, 0, receipt.RequestId);
            Set(cmd, 1, receipt.Payer);
            Set(cmd, 2, receipt.WorkerId);
            Set(cmd, 3, receipt.SignedReceiptJson);
            Set(cmd, 4, receipt.AttestationJson);
            Set(cmd, 5, receipt.ChargedNanotons);
            Set(cmd, 6, receipt.CreatedAtMs);
            cmd.ExecuteNonQuery();
        }

        return true;
    }

    /// <summary>All postings of one entry in one statement.</summary>
    private void InsertPostings(long entryId, IReadOnlyList<(string Account, long Amount)> postings)
    {
        var n = postings.Count;
        var cmd = Get("postings-" + n, () =>
        {
            var values = string.Join(", ", Enumerable.Range(0, n).Select(i => $"(@e, @a{i}, @m{i})"));
            return ($"INSERT INTO {P} (\"EntryId\", \"AccountId\", \"Amount\") VALUES {values}",
                ["e", .. Enumerable.Range(0, n).SelectMany(i => new[] { $"a{i}", $"m{i}" })]);
        });
        Set(cmd, 0, entryId);
        for (var i = 0; i < n; i++)
        {
            Set(cmd, 1 + (2 * i), postings[i].Account);
            Set(cmd, 2 + (2 * i), postings[i].Amount);
        }

        cmd.ExecuteNonQuery();
    }

    /// <summary>A statement with positional parameters ($1, $2, ...); an array argument is one parameter (cast it to object when alone).</summary>
    private static NpgsqlBatchCommand Command(string sql, params object?[] values)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value ?? DBNull.Value });
        }

        return command;
    }

    private StoredHold? ReadHold(string name, string column, string value)
    {
        var cmd = Get(name, $"SELECT {HoldColumns} FROM {H} WHERE \"{column}\" = @v", "v");
        Set(cmd, 0, value);
        using var reader = cmd.ExecuteReader();
        return reader.Read() ? ReadHold(reader) : null;
    }

    private static StoredHold ReadHold(DbDataReader reader) => new(
        reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetInt64(3), reader.GetInt64(7))
    {
        State = (HoldState)reader.GetInt32(4),
        Charged = reader.GetInt64(5),
    };

    private DbCommand Get(string name, string sql, params string[] parameters)
    {
        // Every statement of every batch comes here: a prepared command found needs no closure.
        if (_commands.TryGetValue(name, out var cmd))
        {
            cmd.Transaction = _transaction;
            return cmd;
        }

        return Get(name, () => (sql, parameters));
    }

    private DbCommand Get(string name, Func<(string Sql, string[] Parameters)> build)
    {
        if (!_commands.TryGetValue(name, out var cmd))
        {
            var (sql, parameters) = build();
            cmd = _connection.CreateCommand();
#pragma warning disable CA2100 // Only our own constant SQL; values are always parameters.
            cmd.CommandText = sql;
#pragma warning restore CA2100
            foreach (var parameter in parameters)
            {
                var p = cmd.CreateParameter();
                p.ParameterName = "@" + parameter;
                cmd.Parameters.Add(p);
            }

            _commands[name] = cmd;
        }

        cmd.Transaction = _transaction;
        return cmd;
    }

    private static void Set(DbCommand cmd, int index, object? value) => cmd.Parameters[index].Value = value ?? DBNull.Value;
}

/// <summary>A hold as a batch sees it: read from the table (or created by the batch) and changed in memory until the write.</summary>
internal sealed class StoredHold(string id, string key, string payer, long amount, long expiresAtMs)
{
    public string Id { get; } = id;

    public string Key { get; } = key;

    public string Payer { get; } = payer;

    public long Amount { get; } = amount;

    public long ExpiresAtMs { get; } = expiresAtMs;

    public HoldState State { get; set; }

    public long Charged { get; set; }

    /// <summary>Created by this batch (inserted with its final state) rather than read from the table.</summary>
    public bool IsNew { get; init; }
}

/// <summary>One new journal entry with its postings (they sum to zero).</summary>
internal sealed record EntryWrite(string Key, string Kind, string? HoldId, long Amount, IReadOnlyList<(string Account, long Amount)> Postings);

/// <summary>One account's net change in a batch.</summary>
internal sealed record AccountWrite(string Id, bool AllowNegative, long Balance, long Held);

/// <summary>Everything one batch writes, collected in memory while its operations run.</summary>
internal sealed class BatchWrites
{
    public List<StoredHold> Closed { get; } = [];

    public List<StoredHold> NewHolds { get; } = [];

    public List<EntryWrite> Entries { get; } = [];

    /// <summary>Sorted by id (the lock order).</summary>
    public List<AccountWrite> Accounts { get; } = [];

    /// <summary>Verified receipts to keep (one per request id: a repeated id is ignored, as <see cref="Receipts.ReceiptStore"/> does).</summary>
    public List<Receipts.ReceiptRecord> Receipts { get; } = [];
}
