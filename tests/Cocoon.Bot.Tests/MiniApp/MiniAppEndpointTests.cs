using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Deposits;
using Cocoon.Ledger.Ton;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Bot.Tests.MiniApp;

public sealed class MiniAppEndpointTests(MiniAppFixture fixture) : IClassFixture<MiniAppFixture>
{
    private static long NewUserId() => Random.Shared.NextInt64(1_000_000, 9_000_000_000);

    private static async Task<JsonObject> JsonAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"expected {expected}, got {response.StatusCode}: {text}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return JsonNode.Parse(text)!.AsObject();
    }

    [Fact]
    public async Task Missing_forged_and_stale_init_data_get_401_with_a_reason()
    {
        using (var anonymous = fixture.Client(null))
        {
            var body = await JsonAsync(await anonymous.GetAsync("me"), HttpStatusCode.Unauthorized);
            Assert.Equal("missing_init_data", body["error"]!["code"]!.GetValue<string>());
        }

        var signed = await NodeInitDataSigner.SignAsync(MiniAppFixture.BotToken, 31337, DateTimeOffset.UtcNow);
        using (var forged = fixture.Client(signed.Replace("%22id%22%3A31337", "%22id%22%3A31338", StringComparison.Ordinal)))
        {
            var body = await JsonAsync(await forged.GetAsync("me"), HttpStatusCode.Unauthorized);
            Assert.Equal("invalid_init_data", body["error"]!["code"]!.GetValue<string>());
        }

        var stale = await NodeInitDataSigner.SignAsync(MiniAppFixture.BotToken, 31337, DateTimeOffset.UtcNow.AddDays(-2));
        using (var old = fixture.Client(stale))
        {
            var body = await JsonAsync(await old.PostAsync("ton-proof/payload", null), HttpStatusCode.Unauthorized);
            Assert.Contains("too old", body["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        // Refusals are logged with their reason, never with the init data (a bearer credential) or the token.
        Assert.Contains(fixture.Logs.Lines, l => l.Contains("too old", StringComparison.Ordinal));
        Assert.DoesNotContain(fixture.Logs.Lines, l => l.Contains("hash=", StringComparison.Ordinal) || l.Contains(MiniAppFixture.BotToken, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Me_shows_the_ledger_balance_of_the_init_data_user()
    {
        var userId = NewUserId();
        var ledger = fixture.Host.Services.GetRequiredService<ILedger>();
        await ledger.CreditAsync(AccountId.User(userId), 7_500_000, AccountId.StarsClearing, "miniapp-test-" + Guid.NewGuid(), CancellationToken.None);

        using var client = await fixture.ClientForAsync(userId);
        var me = await JsonAsync(await client.GetAsync("me"), HttpStatusCode.OK);
        Assert.Equal(userId, me["user_id"]!.GetValue<long>());
        Assert.Equal(7_500_000, me["balance_nanotons"]!.GetValue<long>());
        Assert.Equal("Ann Lee", me["first_name"]!.GetValue<string>());
        Assert.Null(me["wallet"]);
    }

    [Fact]
    public async Task A_receipt_is_found_only_among_the_users_own_answers()
    {
        using var client = await fixture.ClientForAsync(NewUserId());
        var error = await JsonAsync(await client.GetAsync("receipts/sealed-" + Guid.NewGuid().ToString("N")), HttpStatusCode.NotFound);
        Assert.Equal("receipt_not_found", error["error"]!["code"]!.GetValue<string>());
        await JsonAsync(await client.GetAsync("receipts/" + new string('x', 201)), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_provider_asks_for_its_payout_from_the_provider_screen_once_a_day_and_only_its_owner_may()
    {
        var owner = NewUserId();
        var directory = fixture.Host.Services.GetRequiredService<Cocoon.Network.Providers.ProviderDirectory>();
        var address = new Cocoon.Ledger.Ton.TonAddress(0, System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)).ToFriendly();
        var provider = await directory.RegisterAsync(new Cocoon.Network.Providers.ProviderProfile("gpu-box", owner, address), CancellationToken.None);

        using var client = await fixture.ClientForAsync(owner);
        var nothing = await JsonAsync(await client.PostAsync($"provider/{provider.ProviderId}/payout", null), HttpStatusCode.OK);
        Assert.Equal("nothing_to_pay", nothing["status"]!.GetValue<string>());

        var ledger = fixture.Host.Services.GetRequiredService<ILedger>();
        await ledger.CreditAsync(AccountId.Provider(provider.ProviderId), 200_000_000, AccountId.FreeAllowance, "earned:" + provider.ProviderId, CancellationToken.None);
        var first = await JsonAsync(await client.PostAsync($"provider/{provider.ProviderId}/payout", null), HttpStatusCode.OK);
        Assert.Equal("requested", first["status"]!.GetValue<string>());
        Assert.Equal(200_000_000, first["amount_nanotons"]!.GetValue<long>());
        Assert.StartsWith("Payout requested: ", first["message"]!.GetValue<string>(), StringComparison.Ordinal);

        // Asking again the same day names the same request: it never pays twice.
        var again = await JsonAsync(await client.PostAsync($"provider/{provider.ProviderId}/payout", null), HttpStatusCode.OK);
        Assert.Equal(first["request_id"]!.GetValue<string>(), again["request_id"]!.GetValue<string>());

        // Another user cannot ask for it.
        using var stranger = await fixture.ClientForAsync(NewUserId());
        var refused = await JsonAsync(await stranger.PostAsync($"provider/{provider.ProviderId}/payout", null), HttpStatusCode.NotFound);
        Assert.Equal("provider_not_found", refused["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Workers_lists_served_models_with_their_attestation_kind()
    {
        using var client = await fixture.ClientForAsync(NewUserId());
        var body = await JsonAsync(await client.GetAsync("workers"), HttpStatusCode.OK);
        var models = body["models"]!.AsArray();
        var echo = models.Single(m => m!["name"]!.GetValue<string>() == "scripted-echo")!;
        var worker = echo["workers"]!.AsArray().Single()!;
        Assert.Equal("worker-1", worker["worker_id"]!.GetValue<string>());
        Assert.Equal("simulated", worker["attestation_kind"]!.GetValue<string>());
    }

    [Fact]
    public async Task Ton_top_up_creates_an_invoice_and_returns_its_ton_connect_request()
    {
        var userId = NewUserId();
        using var client = await fixture.ClientForAsync(userId);
        var body = await JsonAsync(await client.PostAsJsonAsync("topup/ton", new { amount_nanotons = 2_500_000_000L }), HttpStatusCode.OK);

        var invoiceId = Guid.Parse(body["invoice_id"]!.GetValue<string>());
        using var scope = fixture.Host.Services.CreateScope();
        var invoice = await scope.ServiceProvider.GetRequiredService<DepositInvoices>().FindAsync(invoiceId, CancellationToken.None);
        Assert.NotNull(invoice);
        Assert.Equal(AccountId.User(userId).Value, invoice.Account);
        Assert.Equal(2_500_000_000L, invoice.AmountDue);
        Assert.Equal(invoice.Comment, body["comment"]!.GetValue<string>());

        var wallet = fixture.Host.Services.GetRequiredService<NetworkWallet>();
        var transaction = body["transaction"]!;
        Assert.True(transaction["validUntil"]!.GetValue<long>() > DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        var message = transaction["messages"]!.AsArray().Single()!;
        Assert.Equal(wallet.DepositAddressText, message["address"]!.GetValue<string>());
        Assert.Equal("2500000000", message["amount"]!.GetValue<string>());
        Assert.Equal(TonMessages.Comment(invoice.Comment).ToBocBase64(), message["payload"]!.GetValue<string>());
        Assert.Contains(Uri.EscapeDataString(invoice.Comment), body["transfer_link"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"amount_nanotons":5}""", "invalid_amount")]
    [InlineData("""{"amount_nanotons":"lots"}""", "invalid_json")]
    [InlineData("not json", "invalid_json")]
    public async Task Bad_top_up_requests_are_400_with_a_reason(string json, string code)
    {
        using var client = await fixture.ClientForAsync(NewUserId());
        using var content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
        var body = await JsonAsync(await client.PostAsync("topup/ton", content), HttpStatusCode.BadRequest);
        Assert.Equal(code, body["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Ton_proof_links_the_wallet_once_and_refuses_replay_foreign_domain_and_a_second_owner()
    {
        var userId = NewUserId();
        using var client = await fixture.ClientForAsync(userId);
        using var key = WalletKey.FromSeed(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        var wallet = new WalletV5R1(key.PublicKey, 0, -239);

        var login = await ProofAsync(client, key, wallet, MiniAppFixture.Domain);
        var linked = await JsonAsync(await client.PostAsJsonAsync("ton-proof/check", login), HttpStatusCode.OK);
        Assert.Equal(wallet.Address.ToRaw(), linked["address"]!.GetValue<string>());
        var me = await JsonAsync(await client.GetAsync("me"), HttpStatusCode.OK);
        Assert.Equal(wallet.Address.ToRaw(), me["wallet"]!.GetValue<string>());

        var replay = await JsonAsync(await client.PostAsJsonAsync("ton-proof/check", login), HttpStatusCode.BadRequest);
        Assert.Contains("already used", replay["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);

        var foreign = await JsonAsync(await client.PostAsJsonAsync("ton-proof/check", await ProofAsync(client, key, wallet, "evil.example")), HttpStatusCode.BadRequest);
        Assert.Equal("invalid_ton_proof", foreign["error"]!["code"]!.GetValue<string>());

        using var other = await fixture.ClientForAsync(NewUserId());
        var taken = await JsonAsync(await other.PostAsJsonAsync("ton-proof/check", await ProofAsync(other, key, wallet, MiniAppFixture.Domain)), HttpStatusCode.Conflict);
        Assert.Equal("wallet_linked_elsewhere", taken["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_ton_proof_payload_lives_in_redis_and_only_logs_in_the_user_it_was_issued_to()
    {
        var owner = NewUserId();
        using var ownerClient = await fixture.ClientForAsync(owner);
        using var otherClient = await fixture.ClientForAsync(NewUserId());
        using var key = WalletKey.FromSeed(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        var wallet = new WalletV5R1(key.PublicKey, 0, -239);
        var login = await ProofAsync(ownerClient, key, wallet, MiniAppFixture.Domain);

        // Kept where every replica sees it: Redis, under the owner's id, expiring with the proof's maximum age.
        var payload = login["proof"]!["payload"]!.GetValue<string>();
        using (var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(fixture.Redis.Endpoint))
        {
            var keys = redis.GetServers()[0].Keys(pattern: "*ton-proof:tg:" + owner + ":" + payload).ToList();
            var stored = Assert.Single(keys);
            Assert.NotNull(await redis.GetDatabase().KeyTimeToLiveAsync(stored));
        }

        var stolen = await JsonAsync(await otherClient.PostAsJsonAsync("ton-proof/check", login), HttpStatusCode.BadRequest);
        Assert.Equal("invalid_ton_proof", stolen["error"]!["code"]!.GetValue<string>());
        Assert.Contains("issued to you", stolen["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);

        var linked = await JsonAsync(await ownerClient.PostAsJsonAsync("ton-proof/check", login), HttpStatusCode.OK);
        Assert.Equal(wallet.Address.ToRaw(), linked["address"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_page_is_the_built_bundle_served_from_its_folder_only()
    {
        using var anonymous = new HttpClient { BaseAddress = fixture.BaseAddress };
        using var response = await anonymous.GetAsync("miniapp/");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var html = await response.Content.ReadAsStringAsync();
        Assert.Contains("<script type=\"module\" src=\"app.js\">", html, StringComparison.Ordinal);

        using var script = await anonymous.GetAsync("miniapp/app.js");
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.Equal("text/javascript", script.Content.Headers.ContentType?.MediaType);
        var app = await script.Content.ReadAsStringAsync();
        Assert.Contains("tgWebAppData", app, StringComparison.Ordinal);

        // The anchor check is a chunk loaded on the first "Verify this answer", served from the bundle's subfolder.
        var chunk = System.Text.RegularExpressions.Regex.Match(app, @"chunks/anchor-[A-Za-z0-9]+\.js").Value;
        Assert.NotEmpty(chunk);
        using var anchorChunk = await anonymous.GetAsync("miniapp/" + chunk);
        Assert.Equal(HttpStatusCode.OK, anchorChunk.StatusCode);
        Assert.Equal("text/javascript", anchorChunk.Content.Headers.ContentType?.MediaType);

        // Nothing outside the bundle's folder, and the API's namespace is not a file path.
        using var outside = await anonymous.GetAsync("miniapp/..%2F..%2Fpackage.json");
        Assert.Equal(HttpStatusCode.NotFound, outside.StatusCode);
        using var noApi = await anonymous.GetAsync("miniapp/api/no-such-endpoint");
        Assert.Equal(HttpStatusCode.NotFound, noApi.StatusCode);

        using var manifest = await anonymous.GetAsync("miniapp/tonconnect-manifest.json");
        var body = JsonNode.Parse(await manifest.Content.ReadAsStringAsync())!;
        Assert.Equal(new Uri(fixture.BaseAddress, "/miniapp/").ToString(), body["url"]!.GetValue<string>());

        using var noRedirect = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = fixture.BaseAddress };
        using var bare = await noRedirect.GetAsync("miniapp");
        Assert.Equal(HttpStatusCode.Redirect, bare.StatusCode);
        Assert.Equal("/miniapp/", bare.Headers.Location?.OriginalString);
    }

    /// <summary>What a TON Connect wallet returns for a ton_proof request, signed with the wallet's key.</summary>
    private static async Task<JsonObject> ProofAsync(HttpClient client, WalletKey key, WalletV5R1 wallet, string domain)
    {
        var payload = (await JsonAsync(await client.PostAsync("ton-proof/payload", null), HttpStatusCode.OK))["payload"]!.GetValue<string>();
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var signature = key.Sign(TonProofVerifier.SigningHash(wallet.Address, domain, timestamp, payload));
        return new JsonObject
        {
            ["address"] = wallet.Address.ToRaw(),
            ["network"] = "-239",
            ["public_key"] = Convert.ToHexStringLower(key.PublicKey),
            ["walletStateInit"] = wallet.StateInit.ToCell().ToBocBase64(),
            ["proof"] = new JsonObject
            {
                ["timestamp"] = timestamp,
                ["domain"] = new JsonObject { ["lengthBytes"] = System.Text.Encoding.UTF8.GetByteCount(domain), ["value"] = domain },
                ["signature"] = Convert.ToBase64String(signature),
                ["payload"] = payload,
                ["state_init"] = wallet.StateInit.ToCell().ToBocBase64(),
            },
        };
    }
}
