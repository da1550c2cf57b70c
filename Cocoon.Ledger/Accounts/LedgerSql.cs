using System.Data;
using System.Data.Common;
using Cocoon.Ledger.Data;

namespace Cocoon.Ledger.Accounts;

/// <summary>
/// The writer's statements, prepared once per connection and reused for every batch. Plain SQL that SQLite
/// (3.35+) and PostgreSQL both accept: quoted identifiers, ON CONFLICT, RETURNING, @named parameters.
/// </summary>
internal sealed class LedgerSql : IDisposable
{
    private const string A = "\"" + LedgerTables.Accounts + "\"";
    private const string E = "\"" + LedgerTables.Entries + "\"";
    private const string P = "\"" + LedgerTables.Postings + "\"";
    private const string H = "\"" + LedgerTables.Holds + "\"";

    private readonly DbConnection _connection;
    private readonly LedgerProvider _provider;
    private readonly Dictionary<string, DbCommand> _commands = new(StringComparer.Ordinal);
    private DbTransaction? _transaction;

    public LedgerSql(DbConnection connection, LedgerProvider provider)
    {
        _connection = connection;
        _provider = provider;
    }

    public DbTransaction Begin()
    {
        _transaction = _connection.BeginTransaction();
        return _transaction;
    }

    /// <summary>The posted balance and active holds of an account, locked for this transaction on PostgreSQL.</summary>
    public (long Balance, long Held)? LoadAccount(string id)
    {
        var lockClause = _provider == LedgerProvider.Postgres ? " FOR UPDATE" : "";
        var cmd = Get("load-account", $"SELECT \"Balance\", \"Held\" FROM {A} WHERE \"Id\" = @id{lockClause}", "id");
        Set(cmd, 0, id);
        using var reader = cmd.ExecuteReader();
        return reader.Read() ? (reader.GetInt64(0), reader.GetInt64(1)) : null;
    }

    /// <summary>Adds the batch's net change to an account, creating it on first use.</summary>
    public void UpsertAccount(string id, bool allowNegative, long balanceDelta, long heldDelta, long nowMs)
    {
        var cmd = Get("upsert-account",
            $"INSERT INTO {A} (\"Id\", \"AllowNegative\", \"Balance\", \"Held\", \"CreatedAtMs\") VALUES (@id, @neg, @b, @h, @now) " +
            $"ON CONFLICT (\"Id\") DO UPDATE SET \"Balance\" = {A}.\"Balance\" + excluded.\"Balance\", \"Held\" = {A}.\"Held\" + excluded.\"Held\"",
            "id", "neg", "b", "h", "now");
        Set(cmd, 0, id);
        Set(cmd, 1, allowNegative);
        Set(cmd, 2, balanceDelta);
        Set(cmd, 3, heldDelta);
        Set(cmd, 4, nowMs);
        cmd.ExecuteNonQuery();
    }

    /// <summary>Inserts an active hold unless its idempotency key exists; true when inserted.</summary>
    public bool InsertHold(string id, string key, string payer, long amount, long nowMs, long expiresAtMs)
    {
        var cmd = Get("insert-hold",
            $"INSERT INTO {H} (\"Id\", \"IdempotencyKey\", \"Payer\", \"Amount\", \"State\", \"Charged\", \"Released\", \"CreatedAtMs\", \"ExpiresAtMs\") " +
            "VALUES (@id, @key, @payer, @amount, 0, 0, 0, @now, @exp) ON CONFLICT (\"IdempotencyKey\") DO NOTHING",
            "id", "key", "payer", "amount", "now", "exp");
        Set(cmd, 0, id);
        Set(cmd, 1, key);
        Set(cmd, 2, payer);
        Set(cmd, 3, amount);
        Set(cmd, 4, nowMs);
        Set(cmd, 5, expiresAtMs);
        return cmd.ExecuteNonQuery() == 1;
    }

    public StoredHold? HoldByKey(string key) => ReadHold("hold-by-key", "IdempotencyKey", key);

    public StoredHold? HoldById(string id) => ReadHold("hold-by-id", "Id", id);

    /// <summary>
    /// Closes an active hold if it covers the charge; returns its payer and amount, or null when it was not active
    /// (the conditional update is what makes a concurrent settle and release resolve to exactly one winner).
    /// </summary>
    public (string Payer, long Amount)? CloseHold(string id, HoldState state, long charged, long nowMs)
    {
        var cmd = Get("close-hold",
            $"UPDATE {H} SET \"State\" = @state, \"Charged\" = @charged, \"Released\" = \"Amount\" - @charged, \"ClosedAtMs\" = @now " +
            "WHERE \"Id\" = @id AND \"State\" = 0 AND \"Amount\" >= @charged RETURNING \"Payer\", \"Amount\"",
            "state", "charged", "now", "id");
        Set(cmd, 0, (int)state);
        Set(cmd, 1, charged);
        Set(cmd, 2, nowMs);
        Set(cmd, 3, id);
        using var reader = cmd.ExecuteReader();
        return reader.Read() ? (reader.GetString(0), reader.GetInt64(1)) : null;
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

    /// <summary>Inserts an entry unless its idempotency key exists; its id, or null for a repeated key.</summary>
    public long? InsertEntry(string key, string kind, string? holdId, long amount, long nowMs)
    {
        var cmd = Get("insert-entry",
            $"INSERT INTO {E} (\"IdempotencyKey\", \"Kind\", \"HoldId\", \"Amount\", \"CreatedAtMs\") VALUES (@key, @kind, @hold, @amount, @now) " +
            "ON CONFLICT (\"IdempotencyKey\") DO NOTHING RETURNING \"Id\"",
            "key", "kind", "hold", "amount", "now");
        Set(cmd, 0, key);
        Set(cmd, 1, kind);
        Set(cmd, 2, holdId);
        Set(cmd, 3, amount);
        Set(cmd, 4, nowMs);
        using var reader = cmd.ExecuteReader();
        return reader.Read() ? reader.GetInt64(0) : null;
    }

    public bool EntryExists(string key)
    {
        var cmd = Get("entry-exists", $"SELECT 1 FROM {E} WHERE \"IdempotencyKey\" = @key", "key");
        Set(cmd, 0, key);
        return cmd.ExecuteScalar() is not null;
    }

    /// <summary>All postings of one entry in one statement.</summary>
    public void InsertPostings(long entryId, ReadOnlySpan<(string Account, long Amount)> postings)
    {
        var n = postings.Length;
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

    public void Dispose()
    {
        foreach (var command in _commands.Values)
        {
            command.Dispose();
        }

        _commands.Clear();
    }

    private StoredHold? ReadHold(string name, string column, string value)
    {
        var cmd = Get(name, $"SELECT \"Id\", \"Payer\", \"Amount\", \"State\", \"Charged\", \"ExpiresAtMs\" FROM {H} WHERE \"{column}\" = @v", "v");
        Set(cmd, 0, value);
        using var reader = cmd.ExecuteReader();
        return reader.Read()
            ? new StoredHold(reader.GetString(0), reader.GetString(1), reader.GetInt64(2), (HoldState)reader.GetInt32(3), reader.GetInt64(4), reader.GetInt64(5))
            : null;
    }

    private DbCommand Get(string name, string sql, params string[] parameters) => Get(name, () => (sql, parameters));

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

internal sealed record StoredHold(string Id, string Payer, long Amount, HoldState State, long Charged, long ExpiresAtMs);
