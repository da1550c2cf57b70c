using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Data;
using Cocoon.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Cocoon.Ledger.Tests.Accounts;

public sealed class LedgerDatabaseTests
{
    [Theory]
    [InlineData("Data Source=ledger-test.db", LedgerProvider.Sqlite)]
    [InlineData("Data Source=ledger.db;Cache=Shared", LedgerProvider.Sqlite)]
    [InlineData("Filename=ledger.db", LedgerProvider.Sqlite)]
    [InlineData("Host=db;Database=cocoon;Username=cocoon;Password=secret", LedgerProvider.Postgres)]
    [InlineData("Server=10.0.0.5;Port=5432;Database=cocoon", LedgerProvider.Postgres)]
    [InlineData(" host = db ; database = cocoon", LedgerProvider.Postgres)]
    [InlineData("postgresql://cocoon@db/cocoon", LedgerProvider.Postgres)]
    public void The_connection_string_selects_the_provider(string connectionString, LedgerProvider expected) =>
        Assert.Equal(expected, LedgerDatabase.DetectProvider(connectionString));

    [Fact]
    public void A_postgres_connection_string_gets_the_postgres_context_and_its_migrations()
    {
        var database = new LedgerDatabase("Host=db.invalid;Database=cocoon;Username=cocoon");
        using var db = database.CreateContext();

        Assert.IsType<PostgresLedgerDbContext>(db);
        Assert.Equal("Npgsql.EntityFrameworkCore.PostgreSQL", db.Database.ProviderName);
        Assert.Contains(db.Database.GetMigrations(), m => m.EndsWith("_InitialLedger", StringComparison.Ordinal));
        Assert.Null(database.SqliteFile);
    }

    [Fact]
    public void The_checked_in_migrations_match_the_model_for_both_providers()
    {
        using var dir = new TempDir("cocoon-ledger");
        using var sqlite = new LedgerDatabase($"Data Source={dir.File("m.db")}").CreateContext();
        using var postgres = new LedgerDatabase("Host=db.invalid;Database=cocoon").CreateContext();

        Assert.False(sqlite.Database.HasPendingModelChanges(), "run dotnet ef migrations add for SqliteLedgerDbContext");
        Assert.False(postgres.Database.HasPendingModelChanges(), "run dotnet ef migrations add for PostgresLedgerDbContext");
    }

    [Fact]
    public async Task The_host_migrates_at_start_serves_the_ledger_and_sweeps_expired_holds()
    {
        using var dir = new TempDir("cocoon-ledger");
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Cocoon:DataDir"] = dir.File("data"),
            ["Ledger:HoldTtl"] = "00:00:00.200",
            ["Ledger:ExpirySweepInterval"] = "00:00:00.100",
        });
        builder.Logging.ClearProviders();
        builder.Services.AddCocoonLedger(builder.Configuration);
        using var host = builder.Build();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var ct = timeout.Token;

        await host.StartAsync(ct);
        Assert.True(File.Exists(Path.Combine(dir.File("data"), "ledger.db")));
        var ledger = host.Services.GetRequiredService<ILedger>();
        Assert.Same(ledger, host.Services.GetRequiredService<ILedgerAccounts>());
        var user = AccountId.User(7);
        Assert.True(await host.Services.GetRequiredService<ILedgerAccounts>().EnsureFreeAllowanceAsync(user, 1_000, ct));
        var hold = await ledger.HoldAsync(user, 600, "host:1", ct);

        // The sweeper (not the test) releases the hold once its 200 ms are up.
        while (await ledger.GetBalanceAsync(user, ct) != 1_000)
        {
            await Task.Delay(50, ct);
        }

        var closed = await Assert.ThrowsAsync<HoldClosedException>(() => ledger.SettleAsync(hold.Id, [new Payee(AccountId.NetworkFee, 1)], ct));
        Assert.Equal("expired", closed.State);

        await host.StopAsync(ct);
        SqliteConnection.ClearAllPools();
    }

    [Fact]
    public void Bad_ledger_options_fail_at_start_naming_the_setting()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Ledger:HoldTtl"] = "-00:00:01" });
        builder.Services.AddCocoonLedger(builder.Configuration);
        using var host = builder.Build();

        var ex = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<LedgerOptions>>().Value);
        Assert.Contains("Ledger:HoldTtl", ex.Message, StringComparison.Ordinal);
    }
}
