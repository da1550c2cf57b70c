using Cocoon.Bot.Api;
using Cocoon.Bot.Telegram.Providers;
using Cocoon.Network.Providers;
using Cocoon.Ledger.Ton;
using Cocoon.Testing;

namespace Cocoon.Bot.Tests.Telegram;

public sealed class ProviderTests(RedisFixture fixture) : IClassFixture<RedisFixture>
{
    private const long Owner = 901;
    private readonly RedisServer redis = fixture.Server;

    [Fact]
    public async Task Registration_refuses_a_bad_address_then_accepts_a_good_one_and_issues_a_worker_token()
    {
        await using var api = new FakeBotApi();
        await using var bot = await BotHarness.StartAsync(redis, api, new ScriptedDispatcher(), null, BotHarness.NewPrefix(), BotHarness.NewHostKey());
        var good = new TonAddress(0, Enumerable.Range(1, 32).Select(i => (byte)i).ToArray()).ToFriendly();
        var badChecksum = good[..^2] + (good[^2] == 'A' ? "B" : "A") + good[^1];

        var messageId = 1;
        async Task SayAsync(string text, string expectStart)
        {
            api.Enqueue(FakeBotApi.TextUpdate(Owner, Owner, text, messageId++));
            await api.WaitForAsync("sendMessage", c => c.Text!.StartsWith(expectStart, StringComparison.Ordinal), count: api.Calls("sendMessage").Count(c => c.Text!.StartsWith(expectStart, StringComparison.Ordinal)) + 1);
        }

        await SayAsync("/provider register", "Let's register");
        await SayAsync("RTX 4090", "2/5");
        await SayAsync("lots", "Please send the VRAM");
        await SayAsync("24", "3/5");
        await SayAsync("eu-west", "4/5");
        await SayAsync("1.25", "5/5");
        await SayAsync(badChecksum, "That is not a valid TON address");
        await SayAsync("0:zz", "That is not a valid TON address");
        await SayAsync(good, "Registered provider");

        var reply = api.Calls("sendMessage")[^1].Text!;
        var token = reply.Split('\n').Single(l => l.StartsWith("cwt_", StringComparison.Ordinal));
        var provider = await bot.Get<ProviderDirectory>().ResolveTokenAsync(token, default);
        Assert.NotNull(provider);
        Assert.Equal(Owner, provider.Profile.TelegramUserId);
        Assert.Equal(1250, provider.PriceCoefficient);
        Assert.Equal(TonAddress.Parse(good), TonAddress.Parse(provider.Profile.PayoutAddress!));
        Assert.Equal("RTX 4090 · 24 GB · eu-west", provider.Profile.Name);
        Assert.False(await bot.Get<ProviderCommands>().InRegistrationAsync(Owner, default));

        // A normal message now goes to the AI again, and the provider commands act on the new provider.
        await SayAsync("/provider pause", provider.ProviderId + " is paused");
        Assert.True((await bot.Get<ProviderDirectory>().GetAsync(provider.ProviderId, default))!.Paused);
        await SayAsync("/provider resume", provider.ProviderId + " takes jobs again.");
        Assert.False((await bot.Get<ProviderDirectory>().GetAsync(provider.ProviderId, default))!.Paused);
        await SayAsync("/provider price 0.9", provider.ProviderId + ": price is now ×0.9");
        await SayAsync("/provider earnings", provider.ProviderId);
        await SayAsync("/provider payout", "Nothing to pay out yet.");
        await SayAsync("/provider status", provider.ProviderId + " · RTX 4090");
    }

    [Fact]
    public async Task Changing_the_payout_address_keeps_one_provider_and_registering_again_says_how()
    {
        const long owner = Owner + 10;
        await using var api = new FakeBotApi();
        await using var bot = await BotHarness.StartAsync(redis, api, new ScriptedDispatcher(), null, BotHarness.NewPrefix(), BotHarness.NewHostKey());
        var first = new TonAddress(0, Enumerable.Range(1, 32).Select(i => (byte)i).ToArray()).ToFriendly();
        var second = new TonAddress(0, Enumerable.Range(101, 32).Select(i => (byte)i).ToArray());
        var badChecksum = second.ToFriendly()[..^2] + (second.ToFriendly()[^2] == 'A' ? "B" : "A") + second.ToFriendly()[^1];

        var messageId = 1;
        async Task<string> SayAsync(string text, string expectStart)
        {
            api.Enqueue(FakeBotApi.TextUpdate(owner, owner, text, messageId++));
            var calls = await api.WaitForAsync("sendMessage", c => c.Text!.StartsWith(expectStart, StringComparison.Ordinal), count: api.Calls("sendMessage").Count(c => c.Text!.StartsWith(expectStart, StringComparison.Ordinal)) + 1);
            return calls.Last(c => c.Method == "sendMessage" && c.Text!.StartsWith(expectStart, StringComparison.Ordinal)).Text!;
        }

        await SayAsync("/provider address", "You have no provider yet");
        await SayAsync("/provider register", "Let's register");
        await SayAsync("A100", "2/5");
        await SayAsync("80", "3/5");
        await SayAsync("us", "4/5");
        await SayAsync("1", "5/5");
        await SayAsync(first, "Registered provider");
        var provider = Assert.Single(await bot.Get<ProviderDirectory>().ListByOwnerAsync(owner, default));

        // The command the Mini App and /provider name: it checks the address and changes it on the provider there is.
        Assert.Contains("/provider address <TON address>", await SayAsync("/provider", "Sell inference"), StringComparison.Ordinal);
        Assert.Contains(first, await SayAsync("/provider address", provider.ProviderId + ": payouts go to"), StringComparison.Ordinal);
        await SayAsync("/provider address " + badChecksum, "That is not a valid TON address");
        await SayAsync("/provider address 0:zz", "That is not a valid TON address");
        await SayAsync("/provider address " + second.ToRaw(), provider.ProviderId + ": payouts now go to " + second.ToFriendly());

        var after = Assert.Single(await bot.Get<ProviderDirectory>().ListByOwnerAsync(owner, default));
        Assert.Equal(provider.ProviderId, after.ProviderId);
        Assert.Equal(second, TonAddress.Parse(after.Profile.PayoutAddress!));
        Assert.Equal(provider.TokenSha256, after.TokenSha256);
        Assert.Equal(1000, after.PriceCoefficient);

        // Registering again tells the owner it would make a second provider and how to change the address instead;
        // cancelled, it leaves the one provider as it was.
        var intro = await SayAsync("/provider register", "Let's register");
        Assert.Contains("You already have provider " + provider.ProviderId, intro, StringComparison.Ordinal);
        Assert.Contains("/provider address <TON address>", intro, StringComparison.Ordinal);
        await SayAsync("/provider cancel", "Registration cancelled.");
        var still = Assert.Single(await bot.Get<ProviderDirectory>().ListByOwnerAsync(owner, default));
        Assert.Equal(second, TonAddress.Parse(still.Profile.PayoutAddress!));
    }

    [Fact]
    public async Task Api_keys_are_created_listed_and_revoked_by_their_owner_only()
    {
        await using var api = new FakeBotApi();
        await using var bot = await BotHarness.StartAsync(redis, api, new ScriptedDispatcher(), null, BotHarness.NewPrefix(), BotHarness.NewHostKey());

        api.Enqueue(FakeBotApi.TextUpdate(Owner + 1, Owner + 1, "/apikey new", 1));
        var created = (await api.WaitForAsync("sendMessage", c => c.Text!.StartsWith("New API key", StringComparison.Ordinal))).Last(c => c.Method == "sendMessage").Text!;
        var key = created.Split('\n').Single(l => l.StartsWith(ApiKeyStore.KeyPrefix, StringComparison.Ordinal));
        var keyId = created.Split(' ')[3];
        Assert.NotNull(await bot.Get<ApiKeyStore>().ValidateAsync(key, default));

        api.Enqueue(FakeBotApi.TextUpdate(Owner + 2, Owner + 2, "/apikey revoke " + keyId, 2)); // someone else
        await api.WaitForAsync("sendMessage", c => c.Text == $"You have no key {keyId}.");
        Assert.NotNull(await bot.Get<ApiKeyStore>().ValidateAsync(key, default));

        api.Enqueue(FakeBotApi.TextUpdate(Owner + 1, Owner + 1, "/apikey revoke " + keyId, 3));
        await api.WaitForAsync("sendMessage", c => c.Text == $"Key {keyId} is revoked.");
        Assert.Null(await bot.Get<ApiKeyStore>().ValidateAsync(key, default));
    }
}
