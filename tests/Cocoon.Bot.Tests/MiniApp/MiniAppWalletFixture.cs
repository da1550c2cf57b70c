using Cocoon.Bot.Tests.Hosting;
using Cocoon.Ledger.LocalChain;
using Cocoon.Testing;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Cocoon.Bot.Tests.MiniApp;

/// <summary>
/// The gateway as shipped (Kestrel, loopback, Mini App on) with its TON services on the local chain
/// (Cocoon.Ledger/LocalChain: @ton/sandbox behind toncenter's HTTP API): the network wallet, deposit invoices, the
/// deposit watcher polling every 200 ms, and ton_proof for the page's host. No worker: the wallet flow needs none.
/// </summary>
public sealed class MiniAppWalletFixture : IAsyncLifetime
{
    private ChainGateway _gateway = null!;

    public RedisServer Redis { get; } = new(appendOnly: true);

    public TempDir Data { get; } = new("cocoon-miniapp-wallet");

    public LocalChainProcess Chain => _gateway.Chain;

    public WebApplicationFactory<Program> Host => _gateway.Host;

    public Uri BaseAddress => _gateway.BaseAddress;

    public CapturingLoggerProvider Logs => _gateway.Gateway.Logs;

    public async Task InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        _gateway = await ChainGateway.StartAsync(Redis, Data.Path, "wallet", _ => new Dictionary<string, string?>
        {
            ["Redis:Prefix"] = "w" + Guid.NewGuid().ToString("N")[..10] + ":",
            ["Ton:DepositPollInterval"] = "00:00:00.200",
        }, depositWatcher: true, timeout.Token);
    }

    public async Task DisposeAsync()
    {
        if (_gateway is not null)
        {
            await _gateway.DisposeAsync();
        }

        Redis.Dispose();
        Data.Dispose();
    }
}
