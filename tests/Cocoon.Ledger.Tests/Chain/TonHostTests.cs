using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Chain;
using Cocoon.Ledger.Deposits;
using Cocoon.Ledger.Tests.LocalChain;
using Cocoon.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Cocoon.Ledger.Tests.Chain;

/// <summary>The services as an app hosts them: migrations at start, the watcher polling in the background.</summary>
public sealed class TonHostTests(LocalChainFixture chain) : IClassFixture<LocalChainFixture>
{
    [Fact]
    public async Task The_hosted_watcher_credits_a_payment_without_being_asked()
    {
        using var dir = new TempDir("cocoon-ton-host");
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Ledger:ConnectionString"] = $"Data Source={dir.File("ledger.db")}",
            ["Ton:DepositPollInterval"] = "00:00:00.200",
            ["Ton:PayoutInterval"] = "00:00:00.200",
        });
        builder.Configuration.AddInMemoryCollection(chain.Chain.ConfigurationValues);
        builder.Services.AddCocoonLedger(builder.Configuration);
        builder.Services.AddTonChain(builder.Configuration).AddTonBackgroundServices();
        using (var host = builder.Build())
        {
            await host.StartAsync(timeout.Token);
            var user = AccountId.User(Random.Shared.NextInt64(1, long.MaxValue));
            DepositInvoice invoice;
            await using (var scope = host.Services.CreateAsyncScope())
            {
                invoice = await scope.ServiceProvider.GetRequiredService<DepositInvoices>().CreateAsync(user, 700_000_000, timeout.Token);
            }

            await chain.Chain.PayAsync(700_000_000, invoice.Comment, "hosted", timeout.Token);
            var ledger = host.Services.GetRequiredService<ILedger>();
            while (await ledger.GetBalanceAsync(user, timeout.Token) == 0)
            {
                await Task.Delay(100, timeout.Token);
            }

            Assert.Equal(700_000_000, await ledger.GetBalanceAsync(user, timeout.Token));
            await host.StopAsync(timeout.Token);
        }

        SqliteConnection.ClearAllPools();
    }

    [Theory]
    [InlineData("not-a-seed", "Ton:WalletSeed")]
    [InlineData("", "Ton:WalletSeed")]
    public void Bad_settings_fail_at_start_naming_the_setting(string seed, string expected)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Ton:ApiUrl"] = "http://127.0.0.1:1/",
            ["Ton:WalletSeed"] = seed,
        }).Build();
        var services = new ServiceCollection().AddTonChain(configuration).BuildServiceProvider();
        var e = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<Cocoon.Ledger.Ton.TonOptions>>().Value);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }
}
