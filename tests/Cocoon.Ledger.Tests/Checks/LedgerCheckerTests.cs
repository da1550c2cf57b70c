using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Checks;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;

namespace Cocoon.Ledger.Tests.Checks;

public sealed class LedgerCheckerTests : LedgerTestBase
{
    private static readonly AccountId Provider = AccountId.Provider("check");

    [Fact]
    public async Task A_busy_ledger_checks_clean_and_reports_its_size()
    {
        var user = await SettledScenarioAsync();

        var report = await LedgerChecker.CheckAsync(Database, Ct);

        Assert.True(report.Ok, report.Summary);
        Assert.Equal(2, report.Entries);
        Assert.Equal(5, report.Postings);
        Assert.Equal(3, report.Holds);
        Assert.Equal(1, report.ActiveHolds);
        Assert.StartsWith("ledger ok:", report.Summary, StringComparison.Ordinal);
        Assert.True(await Ledger.GetBalanceAsync(user, Ct) > 0);
    }

    [Fact]
    public async Task An_unbalanced_posting_is_a_violation_and_the_cli_exits_non_zero()
    {
        await SettledScenarioAsync();
        await ExecuteAsync("INSERT INTO \"LedgerPostings\" (\"EntryId\", \"AccountId\", \"Amount\") SELECT MIN(\"Id\"), 'provider:check', 5 FROM \"LedgerEntries\"");

        var report = await LedgerChecker.CheckAsync(Database, Ct);

        Assert.False(report.Ok);
        Assert.StartsWith("ledger VIOLATED", report.Summary, StringComparison.Ordinal);
        Assert.Contains(report.Violations, v => v.Contains("postings sum to 5, not 0", StringComparison.Ordinal));
        Assert.Contains(report.Violations, v => v.Contains("all postings sum to 5", StringComparison.Ordinal));
        Assert.Contains(report.Violations, v => v.Contains("account provider:check balance", StringComparison.Ordinal));

        var output = new StringWriter();
        Assert.Equal(1, await LedgerChecker.RunCliAsync(["check"], Configuration(), output, Ct));
        Assert.StartsWith("ledger VIOLATED", output.ToString(), StringComparison.Ordinal);
        CheckAfterTest = false;
    }

    [Fact]
    public async Task A_tampered_balance_is_a_violation()
    {
        var user = await SettledScenarioAsync();
        await ExecuteAsync($"UPDATE \"LedgerAccounts\" SET \"Balance\" = \"Balance\" + 1 WHERE \"Id\" = '{user.Value}'");

        var report = await LedgerChecker.CheckAsync(Database, Ct);

        Assert.Contains(report.Violations, v => v.Contains($"account {user.Value} balance", StringComparison.Ordinal));
        CheckAfterTest = false;
    }

    [Fact]
    public async Task A_hold_that_disagrees_with_its_postings_is_a_violation()
    {
        await SettledScenarioAsync();
        await ExecuteAsync("UPDATE \"LedgerHolds\" SET \"Charged\" = \"Charged\" + 1, \"Released\" = \"Released\" - 1 WHERE \"State\" = 1");

        var report = await LedgerChecker.CheckAsync(Database, Ct);

        Assert.Contains(report.Violations, v => v.Contains("but its settlement paid", StringComparison.Ordinal));
        CheckAfterTest = false;
    }

    [Fact]
    public async Task A_lost_hold_amount_or_a_negative_user_is_a_violation()
    {
        var user = await SettledScenarioAsync();
        await ExecuteAsync($"UPDATE \"LedgerAccounts\" SET \"Held\" = \"Held\" + 1000000 WHERE \"Id\" = '{user.Value}'");

        var report = await LedgerChecker.CheckAsync(Database, Ct);

        Assert.Contains(report.Violations, v => v.Contains("but its active holds sum to", StringComparison.Ordinal));
        Assert.Contains(report.Violations, v => v.Contains("is below zero", StringComparison.Ordinal));
        CheckAfterTest = false;
    }

    [Fact]
    public async Task A_released_hold_with_a_charge_is_a_violation()
    {
        await SettledScenarioAsync();
        await ExecuteAsync("UPDATE \"LedgerHolds\" SET \"Charged\" = 1 WHERE \"State\" = 2");

        var report = await LedgerChecker.CheckAsync(Database, Ct);

        Assert.Contains(report.Violations, v => v.Contains("(state 2)", StringComparison.Ordinal));
        CheckAfterTest = false;
    }

    [Fact]
    public async Task The_cli_prints_one_line_and_exits_zero_on_a_clean_ledger()
    {
        await SettledScenarioAsync();
        var output = new StringWriter();

        Assert.Equal(0, await LedgerChecker.RunCliAsync(["check"], Configuration(), output, Ct));
        Assert.Single(output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(2, await LedgerChecker.RunCliAsync(["bogus"], Configuration(), new StringWriter(), Ct));
    }

    [Fact]
    public async Task The_cli_defaults_to_ledger_db_in_the_data_folder()
    {
        var empty = Dir.File("empty");
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Cocoon:DataDir"] = empty }).Build();
        var output = new StringWriter();

        Assert.Equal(0, await LedgerChecker.RunCliAsync(["check"], configuration, output, Ct));
        Assert.Contains(Path.Combine(empty, "ledger.db"), output.ToString(), StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(empty, "ledger.db")));
    }

    private IConfiguration Configuration() => new ConfigurationBuilder()
        .AddInMemoryCollection(new Dictionary<string, string?> { ["Ledger:ConnectionString"] = Database.ConnectionString })
        .Build();

    /// <summary>A deposit, one settled hold, one released, one still active.</summary>
    private async Task<AccountId> SettledScenarioAsync()
    {
        var user = NewUser();
        await FundAsync(user, 10_000);
        var settled = await Ledger.HoldAsync(user, 1_000, "c:1", Ct);
        await Ledger.SettleAsync(settled.Id, [new Payee(Provider, 500), new Payee(AccountId.NetworkFee, 50)], Ct);
        var released = await Ledger.HoldAsync(user, 1_000, "c:2", Ct);
        await Ledger.ReleaseAsync(released.Id, Ct);
        await Ledger.HoldAsync(user, 1_000, "c:3", Ct);
        return user;
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new SqliteConnection(Database.ConnectionString);
        await connection.OpenAsync(Ct);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        Assert.True(await command.ExecuteNonQueryAsync(Ct) > 0);
    }
}
