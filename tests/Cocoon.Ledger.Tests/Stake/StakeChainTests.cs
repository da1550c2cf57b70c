using System.Security.Cryptography;
using Cocoon.Ledger.Chain;
using Cocoon.Ledger.Deposits;
using Cocoon.Ledger.Stake;
using Cocoon.Ledger.Tests.Chain;
using Cocoon.Ledger.Tests.LocalChain;
using Cocoon.Ledger.Ton;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Cocoon.Ledger.Tests.Stake;

/// <summary>The stake contract on the local chain: read through toncenter's runGetMethod, slashed by the network wallet.</summary>
public sealed class StakeChainTests(LocalChainFixture fixture) : IClassFixture<LocalChainFixture>
{
    private const long DepositFee = 50_000_000;

    private static CancellationToken Ct => CancellationToken.None;

    private IOptions<TonOptions> Options => Microsoft.Extensions.Options.Options.Create(new TonOptions
    {
        ApiUrl = fixture.Chain.BaseUrl,
        WalletSeed = fixture.Chain.WalletSeedHex,
        StakeContract = fixture.Chain.StakeAddress.ToRaw(),
    });

    [Fact]
    public async Task RunGetMethod_answers_like_toncenter_v2_numbers_in_hex_and_a_failing_method_with_its_exit_code()
    {
        var delay = await fixture.Client.RunGetMethodAsync(fixture.Chain.StakeAddress, "unbonding_delay", [], Ct);
        Assert.Equal(0, delay.ExitCode);
        Assert.Equal(7 * 24 * 3600, (long)Assert.Single(delay.Stack).AsNumber());
        var owner = await fixture.Client.RunGetMethodAsync(fixture.Chain.StakeAddress, "owner", [], Ct);
        var slice = Assert.Single(owner.Stack);
        Assert.Equal("slice", slice.Type);
        Assert.Equal(fixture.Chain.NetworkAddress, Cell.FromBocBase64(slice.BocBase64!).BeginParse().LoadAddress());
        var missing = await fixture.Client.RunGetMethodAsync(fixture.Chain.StakeAddress, "no_such_method", [], Ct);
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Equal(-255, ToncenterClient.ParseTvmNumber("-0xff"));
    }

    [Fact]
    public async Task The_reader_sees_a_deposit_and_a_slash_by_the_network_wallet_takes_the_decided_amount_with_its_reason()
    {
        using var http = new HttpClient { BaseAddress = fixture.Chain.BaseUrl };
        var chain = new ToncenterClient(http);
        var reader = new StakeReader(chain, Options);
        var name = "provider-" + Guid.NewGuid().ToString("N")[..8];
        var provider = await fixture.Chain.UserWalletAsync(name, Ct);
        Assert.Equal(StakePosition.None, await reader.ReadAsync(provider, Ct));

        Assert.Equal(0, await fixture.Chain.StakeAsync(name, 20_000_000_000, Ct));
        var staked = await reader.ReadAsync(provider, Ct);
        Assert.Equal(20_000_000_000 - DepositFee, staked.Stake);
        Assert.Null(staked.LastSlashReason);

        using var wallet = new NetworkWallet(Options);
        var sender = new SlashSender(chain, wallet, reader, TimeProvider.System, NullLogger<SlashSender>.Instance);
        var reason = Convert.ToHexStringLower(SHA256.HashData("evidence"u8));
        var order = new SlashOrder(reason, provider, 2_000_000_000, 42);
        var attempt = await sender.SignAsync(order, Ct);
        Assert.Null(await sender.FindAsync(order, attempt.CreatedAtMs, Ct));
        await sender.SendAsync(attempt, Ct);
        var onChain = await sender.FindAsync(order, attempt.CreatedAtMs, Ct);
        Assert.NotNull(onChain);
        Assert.True(onChain.Applied);
        Assert.Equal(2_000_000_000, onChain.Taken);
        Assert.False(sender.IsDead(attempt));

        var after = await reader.ReadAsync(provider, Ct);
        Assert.Equal(staked.Stake - 2_000_000_000, after.Stake);
        Assert.Equal(2_000_000_000, after.SlashedTotal);
        Assert.Equal(reason, after.LastSlashReason);

        // The same bytes again cannot execute twice (the seqno is spent): the chain still shows one slash.
        await sender.SendAsync(attempt, Ct);
        Assert.Equal(after, await reader.ReadAsync(provider, Ct));
    }

    [Fact]
    public async Task The_slashed_TON_reaching_the_network_wallet_is_booked_as_the_slash_not_as_an_unmatched_deposit()
    {
        await using var host = await TonTestHost.StartAsync(fixture, new Dictionary<string, string?> { ["Ton:StakeContract"] = fixture.Chain.StakeAddress.ToRaw() });
        var reader = new StakeReader(host.Client, Options);
        var name = "slashed-" + Guid.NewGuid().ToString("N")[..8];
        var provider = await fixture.Chain.UserWalletAsync(name, Ct);
        Assert.Equal(0, await fixture.Chain.StakeAsync(name, 20_000_000_000, Ct));
        var sender = new SlashSender(host.Client, host.Wallet, reader, TimeProvider.System, NullLogger<SlashSender>.Instance);
        var reason = Convert.ToHexStringLower(SHA256.HashData(Guid.NewGuid().ToByteArray()));
        var order = new SlashOrder(reason, provider, 1_500_000_000, 43);
        var attempt = await sender.SignAsync(order, Ct);
        await sender.SendAsync(attempt, Ct);
        var onChain = await sender.FindAsync(order, attempt.CreatedAtMs, Ct);
        Assert.True(onChain!.Applied);

        // A stranger's plain transfer stays unmatched; the stake contract's SlashPaid is the slash's, by its reason hash.
        await fixture.Chain.PayAsync(42_000_000, null, "stranger-" + name, Ct);
        await using (var scope = host.Restart())
        {
            await scope.ServiceProvider.GetRequiredService<DepositProcessor>().PollAsync(host.Ct);
        }

        await using (var scope = host.Restart())
        {
            var db = scope.ServiceProvider.GetRequiredService<ChainDbContext>();
            var proceeds = await db.Receipts.SingleAsync(r => r.Comment == reason, host.Ct);
            Assert.Equal(DepositOutcome.Slash, proceeds.Outcome);
            Assert.Equal(onChain.Taken, proceeds.Amount);
            Assert.Equal(fixture.Chain.StakeAddress.ToRaw(), proceeds.Source);
            Assert.Null(proceeds.Account);
            Assert.Equal(0, await db.Receipts.CountAsync(r => r.Outcome == DepositOutcome.Unmatched && r.Source == fixture.Chain.StakeAddress.ToRaw(), host.Ct));
            Assert.Equal(1, await db.Receipts.CountAsync(r => r.Outcome == DepositOutcome.Unmatched && r.Amount == 42_000_000, host.Ct));
        }

        // Nothing was credited for it by the watcher: the slasher books the slash (this host has no slasher, so nothing).
        Assert.Equal(0, await host.Ledger.GetBalanceAsync(Cocoon.Ledger.Accounts.AccountId.TonHotWallet, host.Ct));
    }

    [Fact]
    public async Task A_slash_of_a_provider_without_stake_is_refused_by_the_contract()
    {
        using var http = new HttpClient { BaseAddress = fixture.Chain.BaseUrl };
        var chain = new ToncenterClient(http);
        var reader = new StakeReader(chain, Options);
        using var wallet = new NetworkWallet(Options);
        var sender = new SlashSender(chain, wallet, reader, TimeProvider.System, NullLogger<SlashSender>.Instance);
        var nobody = await fixture.Chain.UserWalletAsync("nobody-" + Guid.NewGuid().ToString("N")[..8], Ct);
        var order = new SlashOrder(Convert.ToHexStringLower(SHA256.HashData("other"u8)), nobody, 1_000_000_000, 7);
        var attempt = await sender.SignAsync(order, Ct);
        await sender.SendAsync(attempt, Ct);
        var onChain = await sender.FindAsync(order, attempt.CreatedAtMs, Ct);
        Assert.NotNull(onChain);
        Assert.False(onChain.Applied);
        Assert.Equal(0, onChain.Taken);
    }
}
