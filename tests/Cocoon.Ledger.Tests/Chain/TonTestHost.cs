using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Chain;
using Cocoon.Ledger.Checks;
using Cocoon.Ledger.Data;
using Cocoon.Ledger.Tests.LocalChain;
using Cocoon.Ledger.Ton;
using Cocoon.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Ledger.Tests.Chain;

/// <summary>
/// The real ledger (SQLite file in a temp folder) and the TON services wired as the app wires them, against the
/// class's local chain. A "restart" is a new scope: nothing in memory survives it, only the database and the chain.
/// On dispose the ledger's invariant check must pass.
/// </summary>
internal sealed class TonTestHost : IAsyncDisposable
{
    private readonly TempDir _dir = new("cocoon-ton");
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(2));

    private TonTestHost(LocalChainFixture chain, Dictionary<string, string?>? settings)
    {
        var config = new Dictionary<string, string?>
        {
            ["Ledger:ConnectionString"] = $"Data Source={_dir.File("ledger.db")}",
            ["Ton:ApiUrl"] = chain.Chain.BaseUrl.ToString(),
            ["Ton:WalletSeed"] = chain.Chain.WalletSeedHex,
            ["Ton:DepositPageSize"] = "2",
            ["Ton:MinimumPayout"] = "1",
        };
        foreach (var (k, v) in settings ?? [])
        {
            config[k] = v;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(config).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddCocoonLedger(configuration);
        services.AddTonChain(configuration);
        Services = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        Chain = chain;
    }

    /// <summary>A host on <paramref name="chain"/> with the ledger and chain tables migrated, as the app has them once started.</summary>
    public static async Task<TonTestHost> StartAsync(LocalChainFixture chain, Dictionary<string, string?>? settings = null)
    {
        var host = new TonTestHost(chain, settings);
        try
        {
            await host.Services.MigrateChainDatabaseAsync(host.Ct);
            return host;
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
    }

    public ServiceProvider Services { get; }

    public LocalChainFixture Chain { get; }

    public CancellationToken Ct => _timeout.Token;

    public ILedger Ledger => Services.GetRequiredService<ILedger>();

    public NetworkWallet Wallet => Services.GetRequiredService<NetworkWallet>();

    public ToncenterClient Client => Services.GetRequiredService<ToncenterClient>();


    /// <summary>A fresh scope: what a restarted process would have.</summary>
    public AsyncServiceScope Restart() => Services.CreateAsyncScope();

    public async ValueTask DisposeAsync()
    {
        var database = Services.GetRequiredService<LedgerDatabase>();
        await Services.DisposeAsync();
        try
        {
            var report = await LedgerChecker.CheckAsync(database, CancellationToken.None);
            Assert.True(report.Ok, report.Summary + Environment.NewLine + string.Join(Environment.NewLine, report.Violations));
        }
        finally
        {
            _timeout.Dispose();
            SqliteConnection.ClearAllPools();
            _dir.Dispose();
        }
    }
}
