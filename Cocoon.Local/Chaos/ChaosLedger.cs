using Cocoon.Ledger.Checks;
using Cocoon.Ledger.Data;

namespace Cocoon.Local.Chaos;

/// <summary>What the ledger holds for one request: its hold (by the dispatcher's key "dispatch:" + request id).</summary>
internal sealed record RequestCharge(HoldState State, long Charged, int Settlements);

/// <summary>
/// The chaos run's view of the stack's ledger (ledger.db under its COCOON_DATA), read directly with the ledger's own
/// checker: what each request was charged, how many holds are still open, and whether every invariant holds.
/// </summary>
internal static class ChaosLedger
{
    private const string HoldKeyPrefix = "dispatch:";

    public static LedgerDatabase Open(string dataDir) => new(LedgerDatabase.DefaultConnectionString(dataDir));

    public static async Task<long> ActiveHoldsAsync(LedgerDatabase database, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT COUNT(*) FROM \"{LedgerTables.Holds}\" WHERE \"State\" = 0";
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Every dispatch hold by request id, with its state, charge and number of settlement entries.</summary>
    public static async Task<Dictionary<string, RequestCharge>> ChargesAsync(LedgerDatabase database, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText =
            $"SELECT h.\"IdempotencyKey\", h.\"State\", h.\"Charged\", (SELECT COUNT(*) FROM \"{LedgerTables.Entries}\" e WHERE e.\"HoldId\" = h.\"Id\") " +
            $"FROM \"{LedgerTables.Holds}\" h WHERE h.\"IdempotencyKey\" LIKE '{HoldKeyPrefix}%'";
        var charges = new Dictionary<string, RequestCharge>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            charges[reader.GetString(0)[HoldKeyPrefix.Length..]] = new RequestCharge((HoldState)reader.GetInt32(1), reader.GetInt64(2), (int)reader.GetInt64(3));
        }

        return charges;
    }

    public static Task<LedgerCheckReport> CheckAsync(LedgerDatabase database, CancellationToken cancellationToken) =>
        LedgerChecker.CheckAsync(database, cancellationToken);
}
