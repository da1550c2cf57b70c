using System.Security.Cryptography;
using System.Text;
using Cocoon.Bot.Telegram;
using Cocoon.Bot.Telegram.Chats;
using Cocoon.Bot.Telegram.Hosting;
using Cocoon.Ledger.Accounts;
using Cocoon.Testing;
using StackExchange.Redis;

namespace Cocoon.Bot.Tests.Telegram;

public sealed class PrivateChatTests(RedisFixture fixture) : IClassFixture<RedisFixture>
{
    private readonly RedisServer redis = fixture.Server;
    private const long User = 501;

    [Fact]
    public async Task A_text_message_streams_an_answer_as_drafts_then_one_final_message()
    {
        await using var api = new FakeBotApi();
        var dispatcher = new ScriptedDispatcher { PieceDelay = TimeSpan.FromMilliseconds(120), Answer = _ => ["The ", "answer ", "is ", "forty-two."] };
                await using var bot = await BotHarness.StartAsync(redis, api, dispatcher, null, BotHarness.NewPrefix(), BotHarness.NewHostKey());

        api.Enqueue(FakeBotApi.TextUpdate(User, User, "What is the answer?", 11));
        await api.WaitForAsync("sendMessage", c => c.Text == "The answer is forty-two.");

        var calls = api.Calls();
        Assert.Contains(calls, c => c.Method == "sendChatAction" && c.Body["action"]!.GetValue<string>() == "typing");
        var drafts = calls.Where(c => c.Method == "sendMessageDraft").ToList();
        Assert.NotEmpty(drafts);
        Assert.All(drafts, d => Assert.Equal(11, d.Body["draft_id"]!.GetValue<long>()));
        Assert.Equal(drafts.Count, drafts.Select(d => d.Text).Distinct().Count()); // never the same text twice
        Assert.DoesNotContain(calls, c => c.Body["parse_mode"] is not null); // plain text can't break
        Assert.Single(calls, c => c.Method == "sendMessage" && c.Text!.Contains("forty-two", StringComparison.Ordinal));

        var request = Assert.Single(dispatcher.Requests);
        Assert.Equal(AccountId.User(User), request.Payer);
        Assert.Equal("What is the answer?", request.Generation.Messages![^1].Content);
        Assert.Equal(50_000_000, await bot.Ledger.GetBalanceAsync(AccountId.User(User), default)); // the free allowance
    }

    [Fact]
    public async Task Without_drafts_one_message_is_edited_only_when_its_text_changed()
    {
        await using var api = new FakeBotApi();
        api.Unsupported("sendMessageDraft");
        var dispatcher = new ScriptedDispatcher { PieceDelay = TimeSpan.FromMilliseconds(250), Answer = _ => ["One", " two", "", " three", "\n\nfour"] };
        await using var bot = await BotHarness.StartAsync(redis, api, dispatcher, null, BotHarness.NewPrefix(), BotHarness.NewHostKey());

        api.Enqueue(FakeBotApi.TextUpdate(User, User, "count", 12));
        var calls = await api.WaitForAsync(cs => cs.Any(c => c.Text == "One two three\n\nfour"));

        var sent = Assert.Single(calls, c => c.Method == "sendMessage");
        var edits = calls.Where(c => c.Method == "editMessageText").ToList();
        Assert.NotEmpty(edits);
        var texts = new[] { sent.Text }.Concat(edits.Select(e => e.Text)).ToList();
        for (var i = 1; i < texts.Count; i++)
        {
            Assert.NotEqual(texts[i - 1], texts[i]);
        }
    }

    [Fact]
    public async Task The_conversation_is_context_for_the_next_turn_and_stored_only_encrypted()
    {
        await using var api = new FakeBotApi();
        var dispatcher = new ScriptedDispatcher { Answer = r => [$"reply {r.Generation.Messages!.Count}"] };
        var prefix = BotHarness.NewPrefix();
        var hostKey = BotHarness.NewHostKey();
        await using var bot = await BotHarness.StartAsync(redis, api, dispatcher, null, prefix, hostKey);

        api.Enqueue(FakeBotApi.TextUpdate(User, User, "my secret is pineapple", 21));
        await api.WaitForAsync("sendMessage", c => c.Text == "reply 1");
        api.Enqueue(FakeBotApi.TextUpdate(User, User, "what was my secret?", 22));
        await api.WaitForAsync("sendMessage", c => c.Text == "reply 3");

        var second = dispatcher.Requests[1].Generation.Messages!;
        Assert.Equal(["user", "assistant", "user"], second.Select(m => m.Role));
        Assert.Equal("my secret is pineapple", second[0].Content);

        // Nothing in Redis holds the words in plaintext, and the stored blob opens only with the host key.
        var keys = bot.Get<TelegramKeys>();
        var db = bot.Redis.GetDatabase();
        await RedisPlaintext.AssertAbsentAsync(bot.Redis, prefix + ":*", "pineapple", "my secret");

        var blob = (byte[])(await db.StringGetAsync(keys.Conversation(User)))!;
        Assert.True(await db.KeyTimeToLiveAsync(keys.Conversation(User)) > TimeSpan.FromHours(23));
        using var right = new HostKeySealer(Convert.FromBase64String(hostKey));
        using var wrong = new HostKeySealer(Convert.FromBase64String(BotHarness.NewHostKey()));
        Assert.Contains("pineapple", Encoding.UTF8.GetString(right.Open(blob, keys.Conversation(User))!), StringComparison.Ordinal);
        Assert.Null(wrong.Open(blob, keys.Conversation(User)));
        Assert.Null(right.Open(blob, keys.Conversation(User + 1))); // bound to its key: can't be moved to another user

        api.Enqueue(FakeBotApi.TextUpdate(User, User, "/forget", 23));
        await api.WaitForAsync("sendMessage", c => c.Text!.StartsWith("Done:", StringComparison.Ordinal));
        Assert.False(await db.KeyExistsAsync(keys.Conversation(User)));
        Assert.False(await db.KeyExistsAsync(keys.User(User)));

        // A copy of the blob saved before /forget and written back does not bring the conversation back: /forget
        // bumped the conversation's generation, which is part of what the blob must match.
        await db.StringSetAsync(keys.Conversation(User), blob);
        Assert.Empty(await bot.Get<ConversationStore>().LoadAsync(User, CancellationToken.None));
        api.Enqueue(FakeBotApi.TextUpdate(User, User, "what was my secret?", 24));
        while (dispatcher.Requests.Count < 3)
        {
            await Task.Delay(20);
        }

        Assert.Equal(["user"], dispatcher.Requests[2].Generation.Messages!.Select(m => m.Role));
    }

    [Fact]
    public void The_host_key_seals_with_xchacha20_poly1305_and_random_192_bit_nonces_and_still_opens_the_earlier_layout()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        using var sealer = new HostKeySealer(key);
        var first = sealer.Seal("turns"u8, "ctx");
        var second = sealer.Seal("turns"u8, "ctx");
        Assert.Equal(1 + 24 + 5 + 16, first.Length);
        Assert.Equal(0x02, first[0]);
        Assert.NotEqual(first.AsSpan(1, 24).ToArray(), second.AsSpan(1, 24).ToArray());
        Assert.Equal("turns"u8.ToArray(), sealer.Open(first, "ctx"));
        Assert.Null(sealer.Open(first, "other"));

        // A blob of the earlier layout (ChaCha20-Poly1305, 12-byte nonce, no version byte) still opens after an upgrade.
        using var legacyKey = NSec.Cryptography.Key.Import(NSec.Cryptography.AeadAlgorithm.ChaCha20Poly1305, key, NSec.Cryptography.KeyBlobFormat.RawSymmetricKey);
        var nonce = RandomNumberGenerator.GetBytes(12);
        byte[] legacy = [.. nonce, .. NSec.Cryptography.AeadAlgorithm.ChaCha20Poly1305.Encrypt(legacyKey, nonce, "ctx"u8, "old"u8)];
        Assert.Equal("old"u8.ToArray(), sealer.Open(legacy, "ctx"));
    }

    [Fact]
    public void With_telegram_on_the_host_key_must_be_configured_so_every_replica_shares_it()
    {
        var options = new TelegramOptions { BotToken = "1:secret" };
        var errors = options.Validate(new System.ComponentModel.DataAnnotations.ValidationContext(options)).ToList();
        Assert.Contains(errors, e => e.ErrorMessage!.Contains("Telegram:HostKey", StringComparison.Ordinal) && e.ErrorMessage.Contains("every gateway replica", StringComparison.Ordinal));
        options.HostKey = BotHarness.NewHostKey();
        Assert.DoesNotContain(options.Validate(new System.ComponentModel.DataAnnotations.ValidationContext(options)), e => e.ErrorMessage!.Contains("HostKey", StringComparison.Ordinal));
        Assert.Throws<InvalidOperationException>(() => HostKeySealer.FromConfiguration(null));
    }

    [Fact]
    public async Task Without_balance_the_job_is_not_sent_and_a_top_up_button_is_shown()
    {
        await using var api = new FakeBotApi();
        var dispatcher = new ScriptedDispatcher();
        await using var bot = await BotHarness.StartAsync(redis, api, dispatcher, null, BotHarness.NewPrefix(), BotHarness.NewHostKey(),
            new Dictionary<string, string?> { ["Telegram:FreeAllowanceNanotons"] = "0" });
        dispatcher.Ledger = bot.Ledger; // the hold is the balance check

        api.Enqueue(FakeBotApi.TextUpdate(User, User, "hello?", 31));
        var call = (await api.WaitForAsync("sendMessage", c => c.Text!.Contains("not enough", StringComparison.Ordinal)))
            .Single(c => c.Method == "sendMessage");

        Assert.Empty(dispatcher.Requests);
        Assert.Equal(CallbackData.TopUpMenu, call.Body["reply_markup"]!["inline_keyboard"]![0]![0]!["callback_data"]!.GetValue<string>());
    }

    [Fact]
    public async Task Commands_are_registered_and_non_text_gets_a_short_answer()
    {
        await using var api = new FakeBotApi();
        await using var bot = await BotHarness.StartAsync(redis, api, new ScriptedDispatcher(), null, BotHarness.NewPrefix(), BotHarness.NewHostKey());

        api.Enqueue(FakeBotApi.PhotoUpdate(User, User, 41));
        await api.WaitForAsync("sendMessage", c => c.Text == PrivateChatHandler.Unsupported);
        var menus = api.Calls("setMyCommands");
        Assert.Contains(menus, m => m.Body["scope"]!["type"]!.GetValue<string>() == "all_private_chats"
                                    && m.Body["commands"]!.AsArray().Any(c => c!["command"]!.GetValue<string>() == "privacy"));
        Assert.Contains(menus, m => m.Body["scope"]!["type"]!.GetValue<string>() == "all_group_chats");
    }

    [Fact]
    public async Task Privacy_reports_the_worker_and_attestation_of_the_last_prompt()
    {
        await using var api = new FakeBotApi();
        await using var bot = await BotHarness.StartAsync(redis, api, new ScriptedDispatcher(), null, BotHarness.NewPrefix(), BotHarness.NewHostKey());

        api.Enqueue(FakeBotApi.TextUpdate(User, User, "hi", 51));
        await api.WaitForAsync("sendMessage", c => c.Text == "Hello, world!");
        api.Enqueue(FakeBotApi.TextUpdate(User, User, "/privacy", 52));
        var calls = await api.WaitForAsync("sendMessage", c => c.Text!.Contains("worker-1", StringComparison.Ordinal));
        Assert.Contains(calls, c => c.Text?.Contains("SIMULATED", StringComparison.Ordinal) == true);
    }

    [Fact]
    public async Task Long_answers_are_split_on_paragraph_boundaries()
    {
        var paragraph = new string('a', 3000);
        var text = paragraph + "\n\n" + paragraph + "\n\n" + "tail";
        var parts = MessageSplitter.Split(text);
        Assert.Equal([paragraph, paragraph + "\n\ntail"], parts);
        Assert.All(MessageSplitter.Split(new string('x', 10_000)), p => Assert.True(p.Length <= MessageSplitter.MaxLength));

        await using var api = new FakeBotApi();
        await using var bot = await BotHarness.StartAsync(redis, api, new ScriptedDispatcher { Answer = _ => [paragraph, "\n\n", paragraph, "\n\n", "tail"] }, null, BotHarness.NewPrefix(), BotHarness.NewHostKey());
        api.Enqueue(FakeBotApi.TextUpdate(User, User, "long please", 61));
        var calls = await api.WaitForAsync("sendMessage", c => c.Text!.EndsWith("tail", StringComparison.Ordinal));
        var finals = calls.Where(c => c.Method == "sendMessage").Select(c => c.Text).ToList();
        Assert.Equal([paragraph, paragraph + "\n\ntail"], finals);
    }
}
