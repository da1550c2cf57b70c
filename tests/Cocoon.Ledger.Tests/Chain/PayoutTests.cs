using Cocoon.Ledger.Tests.LocalChain;
using System.Security.Cryptography;
using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Chain;
using Cocoon.Ledger.Payouts;
using Cocoon.Ledger.Ton;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Cocoon.Ledger.Tests.Chain;

public sealed class PayoutTests(LocalChainFixture chain) : IClassFixture<LocalChainFixture>
{
    [Fact]
    public async Task A_batch_to_three_providers_is_confirmed_on_chain_with_the_right_amounts()
    {
        await using var host = await TonTestHost.StartAsync(chain);
        var (providers, addresses) = await RequestThreeAsync(host);

        await using (var scope = host.Restart())
        {
            var sender = scope.ServiceProvider.GetRequiredService<PayoutSender>();
            await sender.RunOnceAsync(host.Ct);
            await sender.RunOnceAsync(host.Ct);
        }

        await AssertPaidOnceAsync(host, providers, addresses);
    }

    [Fact]
    public async Task A_crash_between_signing_and_sending_pays_no_one_twice()
    {
        await using var host = await TonTestHost.StartAsync(chain);
        var (providers, addresses) = await RequestThreeAsync(host);

        // The process dies here: signed and stored, never sent.
        Assert.NotNull(await PrepareBatchAsync(host));

        await RecoverAsync(host);

        await AssertPaidOnceAsync(host, providers, addresses);
    }

    [Fact]
    public async Task A_crash_between_sending_and_confirming_pays_no_one_twice()
    {
        await using var host = await TonTestHost.StartAsync(chain);
        var (providers, addresses) = await RequestThreeAsync(host);

        // Sent, executed on chain, and the process dies before it writes down that it sent it.
        var batch = await PrepareBatchAsync(host);
        await host.Client.SendBocAsync(batch!.Boc, host.Ct);

        await RecoverAsync(host);

        await AssertPaidOnceAsync(host, providers, addresses);
    }

    [Fact]
    public async Task A_batch_that_expired_unsent_is_requeued_and_paid_once()
    {
        await using var host = await TonTestHost.StartAsync(chain);
        var (providers, addresses) = await RequestThreeAsync(host);

        byte[] deadBoc;
        await using (var scope = host.Restart())
        {
            // Signed ten minutes ago (valid for two), stored, never sent.
            var past = new ManualClock(DateTimeOffset.UtcNow.AddMinutes(-10));
            var sender = new PayoutSender(
                scope.ServiceProvider.GetRequiredService<ChainDbContext>(), host.Ledger, host.Client, host.Wallet,
                scope.ServiceProvider.GetRequiredService<IOptions<TonOptions>>(), past, NullLogger<PayoutSender>.Instance);
            await sender.DebitRequestedAsync(host.Ct);
            deadBoc = (await sender.PrepareBatchAsync(host.Ct))!.Boc;
        }

        // The wallet refuses it: valid_until has passed.
        await Assert.ThrowsAsync<ToncenterException>(() => host.Client.SendBocAsync(deadBoc, host.Ct));

        await RecoverAsync(host);

        await using (var scope = host.Restart())
        {
            var db = scope.ServiceProvider.GetRequiredService<ChainDbContext>();
            Assert.Equal(1, await db.PayoutBatches.CountAsync(b => b.Status == BatchStatus.Expired, host.Ct));
        }

        await AssertPaidOnceAsync(host, providers, addresses, batches: 2);
    }

    [Fact]
    public async Task A_payout_above_the_provider_balance_is_rejected_and_nothing_is_sent()
    {
        await using var host = await TonTestHost.StartAsync(chain);
        var provider = AccountId.Provider(Guid.NewGuid().ToString("N"));
        await host.Ledger.CreditAsync(provider, 1_000, AccountId.StarsClearing, "earn:" + provider, host.Ct);
        var to = new TonAddress(0, RandomNumberGenerator.GetBytes(32));
        await using var scope = host.Restart();
        var request = await scope.ServiceProvider.GetRequiredService<PayoutRequests>().RequestAsync(provider, to, 5_000, "p-" + provider, host.Ct);
        await scope.ServiceProvider.GetRequiredService<PayoutSender>().RunOnceAsync(host.Ct);
        var stored = await scope.ServiceProvider.GetRequiredService<PayoutRequests>().FindAsync(request.Id, host.Ct);
        Assert.Equal(PayoutStatus.Rejected, stored!.Status);
        Assert.Equal(1_000, await host.Ledger.GetBalanceAsync(provider, host.Ct));
        Assert.Equal(0, await host.Client.GetAddressBalanceAsync(to, host.Ct));
    }

    [Fact]
    public async Task The_same_request_key_makes_one_payout()
    {
        await using var host = await TonTestHost.StartAsync(chain);
        await using var scope = host.Restart();
        var requests = scope.ServiceProvider.GetRequiredService<PayoutRequests>();
        var to = new TonAddress(0, RandomNumberGenerator.GetBytes(32));
        var a = await requests.RequestAsync(AccountId.Provider("x"), to, 10, "same-key", host.Ct);
        var b = await requests.RequestAsync(AccountId.Provider("x"), to, 10, "same-key", host.Ct);
        Assert.Equal(a.Id, b.Id);
        Assert.Equal(1, await scope.ServiceProvider.GetRequiredService<ChainDbContext>().PayoutRequests.CountAsync(host.Ct));
    }

    /// <summary>Debits what was requested and signs the batch in a process that then dies (its scope ends).</summary>
    private static async Task<PayoutBatch?> PrepareBatchAsync(TonTestHost host)
    {
        await using var scope = host.Restart();
        var sender = scope.ServiceProvider.GetRequiredService<PayoutSender>();
        await sender.DebitRequestedAsync(host.Ct);
        return await sender.PrepareBatchAsync(host.Ct);
    }

    /// <summary>Three restarts of the sender, each running one pass, as a crashed process would come back.</summary>
    private static async Task RecoverAsync(TonTestHost host)
    {
        for (var round = 0; round < 3; round++)
        {
            await using var scope = host.Restart();
            await scope.ServiceProvider.GetRequiredService<PayoutSender>().RunOnceAsync(host.Ct);
        }
    }

    private static async Task<(AccountId[] Providers, TonAddress[] Addresses)> RequestThreeAsync(TonTestHost host)
    {
        var providers = Enumerable.Range(0, 3).Select(_ => AccountId.Provider(Guid.NewGuid().ToString("N"))).ToArray();
        var addresses = providers.Select(_ => new TonAddress(0, RandomNumberGenerator.GetBytes(32))).ToArray();
        await using var scope = host.Restart();
        var requests = scope.ServiceProvider.GetRequiredService<PayoutRequests>();
        for (var i = 0; i < 3; i++)
        {
            // Providers earn from users' jobs; here a Stars payment stands in for them.
            await host.Ledger.CreditAsync(providers[i], 10_000_000_000, AccountId.StarsClearing, "earn:" + providers[i], host.Ct);
            await requests.RequestAsync(providers[i], addresses[i], Amount(i), "payout:" + providers[i], host.Ct);
        }

        return (providers, addresses);
    }

    private static long Amount(int i) => 100_000_000L * (i + 1) + i;

    private static async Task AssertPaidOnceAsync(TonTestHost host, AccountId[] providers, TonAddress[] addresses, int batches = 1)
    {
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(Amount(i), await host.Client.GetAddressBalanceAsync(addresses[i], host.Ct));
            Assert.Equal(10_000_000_000 - Amount(i), await host.Ledger.GetBalanceAsync(providers[i], host.Ct));
            var txs = await host.Client.GetTransactionsAsync(addresses[i], null, null, 10, 0, ascending: true, host.Ct);
            Assert.Equal(Amount(i), Assert.Single(txs).InMessage!.Value);
        }

        await using var scope = host.Restart();
        var db = scope.ServiceProvider.GetRequiredService<ChainDbContext>();
        Assert.True(await db.PayoutRequests.AllAsync(r => r.Status == PayoutStatus.Confirmed, host.Ct));
        Assert.Equal(batches, await db.PayoutBatches.CountAsync(host.Ct));
        var confirmed = await db.PayoutBatches.SingleAsync(b => b.Status == BatchStatus.Confirmed, host.Ct);
        Assert.NotNull(confirmed.TransactionHash);
    }
    [Fact]
    public async Task Providers_above_the_threshold_are_paid_their_whole_balance_once()
    {
        await using var host = await TonTestHost.StartAsync(chain);
        var rich = Guid.NewGuid().ToString("N");
        var poor = Guid.NewGuid().ToString("N");
        await host.Ledger.CreditAsync(AccountId.Provider(rich), 2_000_000, AccountId.StarsClearing, "earn:" + rich, host.Ct);
        await host.Ledger.CreditAsync(AccountId.Provider(poor), 500_000, AccountId.StarsClearing, "earn:" + poor, host.Ct);
        PayoutTarget[] targets =
        [
            new(rich, new TonAddress(0, RandomNumberGenerator.GetBytes(32))),
            new(poor, new TonAddress(0, RandomNumberGenerator.GetBytes(32))),
        ];

        await using var scope = host.Restart();
        var threshold = scope.ServiceProvider.GetRequiredService<ThresholdPayouts>();
        var first = await threshold.RunOnceAsync(targets, 1_000_000, host.Ct);
        var request = Assert.Single(first);
        Assert.Equal(AccountId.Provider(rich).Value, request.Provider);
        Assert.Equal(2_000_000, request.Amount);

        // Again the same day, and a day later while that request is not yet debited: no second request.
        Assert.Empty(await threshold.RunOnceAsync(targets, 1_000_000, host.Ct));
        var tomorrow = new ThresholdPayouts(host.Ledger, scope.ServiceProvider.GetRequiredService<PayoutRequests>(), new ShiftedClock(TimeSpan.FromDays(1)));
        Assert.Empty(await tomorrow.RunOnceAsync(targets, 1_000_000, host.Ct));

        // Once the sender has debited it, the provider is below the threshold and nothing more is asked.
        await scope.ServiceProvider.GetRequiredService<PayoutSender>().DebitRequestedAsync(host.Ct);
        Assert.Equal(0, await host.Ledger.GetBalanceAsync(AccountId.Provider(rich), host.Ct));
        Assert.Empty(await tomorrow.RunOnceAsync(targets, 1_000_000, host.Ct));
        Assert.Equal(1, await scope.ServiceProvider.GetRequiredService<ChainDbContext>().PayoutRequests.CountAsync(host.Ct));
    }

    private sealed class ShiftedClock(TimeSpan shift) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + shift;
    }
}
