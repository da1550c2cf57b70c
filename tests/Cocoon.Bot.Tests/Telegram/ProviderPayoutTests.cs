using System.Collections.Concurrent;
using System.Security.Cryptography;
using Cocoon.Bot.Payouts;
using Cocoon.Bot.Tests.Dispatch;
using Cocoon.Network.Providers;
using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Chain;
using Cocoon.Ledger.Payouts;
using Cocoon.Ledger.Ton;
using Cocoon.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Cocoon.Bot.Tests.Telegram;

/// <summary>
/// Payouts that pay: /provider payout records a payout request for the provider's whole balance to its address, and
/// the threshold payout service requests one for every provider above the threshold and none below it. The TON
/// services are the real ones on the harness's SQLite file; Ton:ApiUrl is a closed port, as no sender runs here.
/// </summary>
public sealed class ProviderPayoutTests(RedisFixture fixture) : IClassFixture<RedisFixture>
{
    private const long Owner = 891;
    private readonly RedisServer redis = fixture.Server;

    [Fact]
    public async Task Provider_payout_requests_the_whole_balance_to_the_registered_address_once_a_day()
    {
        await using var api = new FakeBotApi();
        await using var bot = await BotHarness.StartAsync(redis, api, new ScriptedDispatcher(), null, BotHarness.NewPrefix(), BotHarness.NewHostKey(),
            services: s => s.AddTonChain(TonConfiguration()));
        var address = new TonAddress(0, RandomNumberGenerator.GetBytes(32));
        var provider = await bot.Get<ProviderDirectory>().RegisterAsync(new ProviderProfile("payout-test", Owner, address.ToFriendly()), default);
        await bot.Ledger.CreditAsync(AccountId.Provider(provider.ProviderId), 200_000_000, AccountId.FreeAllowance, "earned:" + provider.ProviderId, default);

        var first = await AskPayoutAsync(api, 1);
        Assert.StartsWith($"Payout requested: 0.2 TON to {address.ToFriendly()} (request ", first.Text, StringComparison.Ordinal);
        var id = RequestId(first.Text!);
        await using (var scope = bot.Services.CreateAsyncScope())
        {
            var request = await scope.ServiceProvider.GetRequiredService<PayoutRequests>().FindAsync(id, default);
            Assert.NotNull(request);
            Assert.Equal((AccountId.Provider(provider.ProviderId).Value, address.ToRaw(), 200_000_000L, PayoutStatus.Requested),
                (request.Provider, request.Destination, request.Amount, request.Status));
        }

        // Asking again the same day does not pay twice: the same request comes back.
        var second = await AskPayoutAsync(api, 2);
        Assert.Equal(id, RequestId(second.Text!));
        await using (var scope = bot.Services.CreateAsyncScope())
        {
            Assert.Equal(1, await scope.ServiceProvider.GetRequiredService<ChainDbContext>().PayoutRequests.CountAsync());
        }
    }

    [Fact]
    public async Task The_threshold_payout_service_pays_providers_above_the_threshold_and_not_below()
    {
        await using var api = new FakeBotApi();
        var logs = new ConcurrentQueue<string>();
        await using var bot = await BotHarness.StartAsync(redis, api, new ScriptedDispatcher(), null, BotHarness.NewPrefix(), BotHarness.NewHostKey(),
            services: s =>
            {
                s.AddTonChain(TonConfiguration());
                s.AddOptions<ThresholdPayoutOptions>().Configure(o =>
                {
                    o.ThresholdNanotons = 1_000_000_000;
                    o.Interval = TimeSpan.FromSeconds(1);
                });
                s.AddHostedService<ThresholdPayoutService>();
                s.AddSingleton<ILoggerProvider>(new ListLoggerProvider(logs));
            });
        var directory = bot.Get<ProviderDirectory>();
        var richAddress = new TonAddress(0, RandomNumberGenerator.GetBytes(32));
        var poor = await directory.RegisterAsync(new ProviderProfile("poor", Owner, new TonAddress(0, RandomNumberGenerator.GetBytes(32)).ToFriendly()), default);
        var rich = await directory.RegisterAsync(new ProviderProfile("rich", Owner, richAddress.ToFriendly()), default);
        await bot.Ledger.CreditAsync(AccountId.Provider(poor.ProviderId), 999_999_999, AccountId.FreeAllowance, "earned:" + poor.ProviderId, default);
        await bot.Ledger.CreditAsync(AccountId.Provider(rich.ProviderId), 2_000_000_000, AccountId.FreeAllowance, "earned:" + rich.ProviderId, default);

        // The service logs its requests after a whole round over every provider.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!logs.Any(l => l.Contains("Threshold payout requested for " + AccountId.Provider(rich.ProviderId).Value + ":", StringComparison.Ordinal)))
        {
            Assert.True(DateTime.UtcNow < deadline, "no threshold payout was requested\n" + string.Join("\n", logs.Where(l => l.Contains("Payout", StringComparison.Ordinal))));
            await Task.Delay(50);
        }

        await using var scope = bot.Services.CreateAsyncScope();
        var requests = await scope.ServiceProvider.GetRequiredService<ChainDbContext>().PayoutRequests.AsNoTracking().ToListAsync();
        var request = Assert.Single(requests);
        Assert.Equal((AccountId.Provider(rich.ProviderId).Value, richAddress.ToRaw(), 2_000_000_000L), (request.Provider, request.Destination, request.Amount));
    }

    private static IConfiguration TonConfiguration() => new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
    {
        ["Ton:ApiUrl"] = "http://127.0.0.1:9/",
        ["Ton:WalletSeed"] = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)),
    }).Build();

    private static async Task<BotApiCall> AskPayoutAsync(FakeBotApi api, int messageId)
    {
        var before = api.Calls("sendMessage").Count(IsPayoutAnswer);
        api.Enqueue(FakeBotApi.TextUpdate(Owner, Owner, "/provider payout", messageId));
        return (await api.WaitForAsync("sendMessage", IsPayoutAnswer, count: before + 1)).Where(c => c.Method == "sendMessage").Last(IsPayoutAnswer);
    }

    private static bool IsPayoutAnswer(BotApiCall c) => c.Text?.StartsWith("Payout requested:", StringComparison.Ordinal) == true;

    private static Guid RequestId(string text)
    {
        var start = text.IndexOf("(request ", StringComparison.Ordinal) + "(request ".Length;
        return Guid.Parse(text[start..text.IndexOf(')', start)]);
    }
}
