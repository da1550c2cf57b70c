using System.Data.Common;
using Cocoon.Ledger.Data;
using Microsoft.Extensions.Configuration;

namespace Cocoon.Ledger.Checks;

/// <summary>What the checker found. <see cref="Summary"/> is the one line `cocoon ledger check` prints.</summary>
public sealed record LedgerCheckReport(
    IReadOnlyList<string> Violations,
    long Entries,
    long Postings,
    long Accounts,
    long Holds,
    long ActiveHolds)
{
    public bool Ok => Violations.Count == 0;

    public string Summary => Ok
        ? $"ledger ok: {Entries} entries, {Postings} postings, {Accounts} accounts, {Holds} holds ({ActiveHolds} active); every entry sums to zero, every hold and balance matches its postings"
        : $"ledger VIOLATED: {Violations.Count} problem(s); first: {Violations[0]}";
}

/// <summary>
/// Proves the ledger's invariants from the raw tables: every entry and all postings sum to zero, every hold agrees
/// with its state and its settlement entry, every cached balance and held amount equals what the postings and
/// active holds say, and no account that may not go negative has.
/// </summary>
public static class LedgerChecker
{
    private const string A = "\"" + LedgerTables.Accounts + "\"";
    private const string E = "\"" + LedgerTables.Entries + "\"";
    private const string P = "\"" + LedgerTables.Postings + "\"";
    private const string H = "\"" + LedgerTables.Holds + "\"";

    /// <summary>Most violations listed per check (a broken ledger would otherwise print millions of lines).</summary>
    private const int Limit = 20;

    public static async Task<LedgerCheckReport> CheckAsync(LedgerDatabase database, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var violations = new List<string>();

        async Task Find(string sql, Func<DbDataReader, string> describe)
        {
            await using var command = connection.CreateCommand();
#pragma warning disable CA2100 // constant SQL
            command.CommandText = sql + " LIMIT " + Limit;
#pragma warning restore CA2100
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                violations.Add(describe(reader));
            }
        }

        async Task<long> Scalar(string sql)
        {
            await using var command = connection.CreateCommand();
#pragma warning disable CA2100 // constant SQL
            command.CommandText = sql;
#pragma warning restore CA2100
            var value = await command.ExecuteScalarAsync(cancellationToken);
            return value is null or DBNull ? 0 : Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture);
        }

        // 1. Every entry balances, and all postings together balance.
        await Find($"SELECT \"EntryId\", SUM(\"Amount\") FROM {P} GROUP BY \"EntryId\" HAVING SUM(\"Amount\") <> 0",
            r => $"entry {r.GetInt64(0)} postings sum to {r.GetInt64(1)}, not 0");
        var total = await Scalar($"SELECT COALESCE(SUM(\"Amount\"), 0) FROM {P}");
        if (total != 0)
        {
            violations.Add($"all postings sum to {total}, not 0");
        }

        await Find($"SELECT p.\"Id\", p.\"EntryId\" FROM {P} p LEFT JOIN {E} e ON e.\"Id\" = p.\"EntryId\" WHERE e.\"Id\" IS NULL",
            r => $"posting {r.GetInt64(0)} belongs to missing entry {r.GetInt64(1)}");

        // 2. Cached balances equal their postings; held amounts equal the active holds.
        await Find($"SELECT a.\"Id\", a.\"Balance\", COALESCE(s.total, 0) FROM {A} a " +
                   $"LEFT JOIN (SELECT \"AccountId\", SUM(\"Amount\") AS total FROM {P} GROUP BY \"AccountId\") s ON s.\"AccountId\" = a.\"Id\" " +
                   "WHERE a.\"Balance\" <> COALESCE(s.total, 0)",
            r => $"account {r.GetString(0)} balance {r.GetInt64(1)} but its postings sum to {r.GetInt64(2)}");
        await Find($"SELECT p.\"AccountId\", SUM(p.\"Amount\") FROM {P} p LEFT JOIN {A} a ON a.\"Id\" = p.\"AccountId\" WHERE a.\"Id\" IS NULL GROUP BY p.\"AccountId\"",
            r => $"postings of {r.GetInt64(1)} to unknown account {r.GetString(0)}");
        await Find($"SELECT a.\"Id\", a.\"Held\", COALESCE(s.total, 0) FROM {A} a " +
                   $"LEFT JOIN (SELECT \"Payer\", SUM(\"Amount\") AS total FROM {H} WHERE \"State\" = 0 GROUP BY \"Payer\") s ON s.\"Payer\" = a.\"Id\" " +
                   "WHERE a.\"Held\" <> COALESCE(s.total, 0)",
            r => $"account {r.GetString(0)} holds {r.GetInt64(1)} but its active holds sum to {r.GetInt64(2)}");
        await Find($"SELECT h.\"Payer\", SUM(h.\"Amount\") FROM {H} h LEFT JOIN {A} a ON a.\"Id\" = h.\"Payer\" WHERE h.\"State\" = 0 AND a.\"Id\" IS NULL GROUP BY h.\"Payer\"",
            r => $"active holds of {r.GetInt64(1)} on unknown account {r.GetString(0)}");

        // 3. Nobody who may not go negative has.
        await Find($"SELECT \"Id\", \"Balance\", \"Held\" FROM {A} WHERE NOT \"AllowNegative\" AND \"Balance\" - \"Held\" < 0",
            r => $"account {r.GetString(0)} is below zero: balance {r.GetInt64(1)}, held {r.GetInt64(2)}");

        // 4. Every hold agrees with its state: held = charged + released once closed, and its settlement entry
        //    (if any) moved exactly what it charged.
        await Find($"SELECT \"Id\", \"State\", \"Amount\", \"Charged\", \"Released\" FROM {H} WHERE " +
                   "\"Amount\" < 0 OR \"Charged\" < 0 OR \"Released\" < 0 " +
                   "OR (\"State\" = 0 AND (\"Charged\" <> 0 OR \"Released\" <> 0)) " +
                   "OR (\"State\" = 1 AND \"Charged\" + \"Released\" <> \"Amount\") " +
                   "OR (\"State\" IN (2, 3) AND (\"Charged\" <> 0 OR \"Released\" <> \"Amount\")) " +
                   "OR \"State\" NOT IN (0, 1, 2, 3)",
            r => $"hold {r.GetString(0)} (state {r.GetInt32(1)}) holds {r.GetInt64(2)} but charged {r.GetInt64(3)} and released {r.GetInt64(4)}");
        await Find($"SELECT h.\"Id\", h.\"State\", h.\"Charged\", COALESCE(s.paid, 0), COALESCE(s.debited, 0), COALESCE(s.entries, 0) FROM {H} h " +
                   $"LEFT JOIN (SELECT e.\"HoldId\", COUNT(DISTINCT e.\"Id\") AS entries, " +
                   "SUM(CASE WHEN p.\"Amount\" > 0 THEN p.\"Amount\" ELSE 0 END) AS paid, " +
                   "SUM(CASE WHEN p.\"Amount\" < 0 AND p.\"AccountId\" = h2.\"Payer\" THEN -p.\"Amount\" ELSE 0 END) AS debited " +
                   $"FROM {E} e JOIN {P} p ON p.\"EntryId\" = e.\"Id\" JOIN {H} h2 ON h2.\"Id\" = e.\"HoldId\" GROUP BY e.\"HoldId\") s ON s.\"HoldId\" = h.\"Id\" " +
                   "WHERE COALESCE(s.paid, 0) <> h.\"Charged\" OR COALESCE(s.debited, 0) <> h.\"Charged\" OR COALESCE(s.entries, 0) > 1 " +
                   "OR (h.\"State\" <> 1 AND COALESCE(s.entries, 0) <> 0)",
            r => $"hold {r.GetString(0)} (state {r.GetInt32(1)}) charged {r.GetInt64(2)} but its settlement paid {r.GetInt64(3)} and debited the payer {r.GetInt64(4)} in {r.GetInt64(5)} entries");
        await Find($"SELECT e.\"Id\", e.\"HoldId\" FROM {E} e LEFT JOIN {H} h ON h.\"Id\" = e.\"HoldId\" WHERE e.\"HoldId\" IS NOT NULL AND h.\"Id\" IS NULL",
            r => $"entry {r.GetInt64(0)} settles unknown hold {r.GetString(1)}");

        return new LedgerCheckReport(
            violations,
            Entries: await Scalar($"SELECT COUNT(*) FROM {E}"),
            Postings: await Scalar($"SELECT COUNT(*) FROM {P}"),
            Accounts: await Scalar($"SELECT COUNT(*) FROM {A}"),
            Holds: await Scalar($"SELECT COUNT(*) FROM {H}"),
            ActiveHolds: await Scalar($"SELECT COUNT(*) FROM {H} WHERE \"State\" = 0"));
    }

    /// <summary>
    /// `cocoon ledger check`: checks the ledger that configuration names (Ledger:ConnectionString, else ledger.db in
    /// Cocoon:DataDir), prints one line and returns 0 when every invariant holds, 1 on a violation, 2 on a usage
    /// or access error. The bot's CLI calls it with the arguments after "ledger".
    /// </summary>
    public static async Task<int> RunCliAsync(string[] args, IConfiguration configuration, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(output);
        if (args is not ["check"])
        {
            await output.WriteLineAsync("usage: cocoon ledger check   (verifies the ledger's invariants; exit 1 on a violation)");
            return 2;
        }

        var database = LedgerServiceCollectionExtensions.CreateDatabase(configuration);
        if (database.SqliteFile is { } file && !File.Exists(file))
        {
            await output.WriteLineAsync($"ledger check: no ledger database at {file} yet (nothing to check; it is created when the gateway starts)");
            return 0;
        }

        try
        {
            var report = await CheckAsync(database, cancellationToken);
            await output.WriteLineAsync(report.Summary);
            foreach (var violation in report.Violations.Skip(1))
            {
                await output.WriteLineAsync("  " + violation);
            }

            return report.Ok ? 0 : 1;
        }
        catch (DbException ex)
        {
            await output.WriteLineAsync($"ledger check: cannot read the ledger ({ex.Message}); is Ledger:ConnectionString right and has the gateway started once?");
            return 2;
        }
    }
}
