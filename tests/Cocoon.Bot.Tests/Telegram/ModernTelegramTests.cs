using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using Cocoon.Bot.Telegram.Chats;
using Cocoon.Bot.Tests.Dispatch;
using Cocoon.Engine.Attestation;
using Cocoon.Engine.Protocol;
using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Checks;
using Cocoon.Ledger.Data;
using Cocoon.Ledger.Receipts;
using Cocoon.Testing;
using Cocoon.Worker.Hosting;
using Cocoon.Worker.Inference;
using Microsoft.Extensions.DependencyInjection;
using global::Telegram.Bot.Types.Enums;

namespace Cocoon.Bot.Tests.Telegram;

/// <summary>Bot API 10.x features against the fake Bot API with Telegram's JSON: Stop, formatted answers, guest mode, ephemeral replies.</summary>
public sealed class ModernTelegramTests(RedisFixture fixture) : IClassFixture<RedisFixture>
{
    private readonly RedisServer redis = fixture.Server;

    [Fact]
    public async Task Stop_on_a_draft_cancels_the_job_frees_the_workers_sequence_keeps_the_text_and_bills_the_part_taken()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var ct = cts.Token;
        const long user = 1601;
        await using var network = new DispatchNetwork(redis);
        await network.StartAsync(ct);
        var endless = new LongAnswerInference();
        var (worker, session) = await network.StartWorkerAsync(ct, inference: endless);
        const long funds = 1_000_000_000;
        await network.Ledger.CreditAsync(AccountId.User(user), funds, AccountId.FreeAllowance, "stop-fund-" + Guid.NewGuid(), ct);

        await using var api = new FakeBotApi();
        await using var bot = await BotHarness.StartAsync(redis, api, network.Dispatcher, network.Ledger, BotHarness.NewPrefix(), BotHarness.NewHostKey(),
            new Dictionary<string, string?> { ["Telegram:FreeAllowanceNanotons"] = "0", ["Telegram:MaxAnswerTokens"] = "1000" });

        api.Enqueue(FakeBotApi.TextUpdate(user, user, "Tell me a very long story", 31));
        var first = (await api.WaitForAsync("sendMessageDraft", c => c.ChatId == user, timeout: TimeSpan.FromSeconds(90)))
            .First(c => c.Method == "sendMessageDraft");
        Assert.True(first.Body["can_stop"]!.GetValue<bool>());
        Assert.True(first.Body["keep_on_stop"]!.GetValue<bool>());
        Assert.Equal(31, first.Body["draft_id"]!.GetValue<long>());

        // The user presses Stop: Telegram sends stopped_message_generation (it must be in allowed_updates to arrive).
        var polls = api.Calls("getUpdates");
        Assert.Contains(polls, c => c.Body["allowed_updates"] is JsonArray a && a.Any(t => t!.GetValue<string>() == "stopped_message_generation"));
        api.Enqueue(FakeBotApi.StoppedGenerationUpdate(user, 31));

        // The worker stops decoding because it was told to (the stand-in never ends on its own) and frees its slot.
        await endless.Stopped.WaitAsync(ct);
        await DispatchNetwork.WaitForIdleAsync(worker, ct);

        // The kept text becomes the final message: what was streamed, then the note.
        var final = (await api.WaitForAsync("sendMessage", c => c.ChatId == user && c.Text!.EndsWith(AnswerStreamer.StoppedNote, StringComparison.Ordinal)))
            .Last(c => c.Method == "sendMessage");
        Assert.StartsWith("Once upon a time", final.Text, StringComparison.Ordinal);
        Assert.True(endless.Produced > 0);
        Assert.True(endless.Produced < LongAnswerInference.Length); // stopped long before the end

        // The part delivered is billed from the worker's signed receipt for exactly the chunks the gateway took (each
        // chunk here is one token), and the final message shows exactly those: no more than the worker produced, and
        // no chunk opened while a draft was being sent is billed without being shown.
        var stored = (await network.Gateway.Services.GetRequiredService<ReceiptStore>().FindAsync($"tg-{user}-31", AccountId.User(user).Value, ct))!.Value;
        var receipt = SignedUsageReceipt.FromJson(stored.Receipt.SignedReceiptJson).Receipt;
        Assert.Equal(FinishReason.Cancelled, receipt.FinishReason);
        var shown = 1 + CountOf(final.Text!, LongAnswerInference.Piece);
        Assert.Equal(shown, receipt.CompletionTokens);
        Assert.True(receipt.CompletionTokens <= endless.Produced);
        Assert.Equal(LongAnswerInference.PromptTokens, receipt.PromptTokens);
        Assert.Equal(ReceiptHashes.Response(LongAnswerInference.TextOf(receipt.CompletionTokens)), receipt.ResponseSha256);
        Assert.Equal(LongAnswerInference.TextOf(receipt.CompletionTokens), final.Text![..^AnswerStreamer.StoppedNote.Length].TrimEnd());
        Assert.True(stored.Receipt.ChargedNanotons > 0);
        Assert.Equal(funds - stored.Receipt.ChargedNanotons, await network.Ledger.GetBalanceAsync(AccountId.User(user), ct));

        var report = await LedgerChecker.CheckAsync(network.Gateway.Services.GetRequiredService<LedgerDatabase>(), ct);
        Assert.True(report.Ok, report.Summary + Environment.NewLine + string.Join(Environment.NewLine, report.Violations));
        Assert.Contains(network.Logs, l => l.Contains("refused: cancelled", StringComparison.Ordinal));
        var pending = await network.Connection.GetDatabase().StreamPendingAsync(network.Keys.Jobs(session.WorkerId), Cocoon.Network.Transport.RedisKeys.WorkerGroup);
        Assert.Equal(0, pending.PendingMessageCount);
    }

    [Fact]
    public void Markdown_becomes_entities_and_reasoning_a_collapsed_blockquote()
    {
        var rich = RichTextRenderer.Render("<think>\nThe user wants code.\n</think>\n# Title\nSome **bold** and `x = 1` and [a link](https://example.org).\n- one\n- two\n```python\nprint('hi')\n```\n| a | b |\n|---|---|\n| 1 | 2 |");
        Assert.DoesNotContain("**", rich.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("```", rich.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("<think>", rich.Text, StringComparison.Ordinal);
        string Of(MessageEntityType type) => rich.Entities.Where(e => e.Type == type).Select(e => rich.Text.Substring(e.Offset, e.Length)).First();
        Assert.Equal("The user wants code.", Of(MessageEntityType.ExpandableBlockquote));
        Assert.Equal("Title", Of(MessageEntityType.Bold));
        Assert.Equal("x = 1", Of(MessageEntityType.Code));
        Assert.Equal("a link", Of(MessageEntityType.TextLink));
        Assert.Contains("• one\n• two", rich.Text, StringComparison.Ordinal);
        var pre = rich.Entities.First(e => e.Type == MessageEntityType.Pre);
        Assert.Equal("python", pre.Language);
        Assert.Equal("print('hi')", rich.Text.Substring(pre.Offset, pre.Length));
        Assert.Contains(rich.Entities, e => e.Type == MessageEntityType.Pre && rich.Text.Substring(e.Offset, e.Length).StartsWith("| a | b |", StringComparison.Ordinal));
        Assert.All(rich.Entities, e => Assert.True(e.Offset >= 0 && e.Length > 0 && e.Offset + e.Length <= rich.Text.Length));
    }

    [Fact]
    public async Task A_code_block_across_the_4096_split_stays_a_code_block_in_both_messages()
    {
        await using var api = new FakeBotApi();
        var code = string.Join('\n', Enumerable.Range(0, 400).Select(i => $"line_{i:D4} = {i}"));
        var answer = "Here is the code:\n\n```python\n" + code + "\n```\n\nDone.";
        var dispatcher = new ScriptedDispatcher { Answer = _ => [answer] };
        await using var bot = await BotHarness.StartAsync(redis, api, dispatcher, null, BotHarness.NewPrefix(), BotHarness.NewHostKey());

        api.Enqueue(FakeBotApi.TextUpdate(1602, 1602, "code please", 41));
        var calls = await api.WaitForAsync("sendMessage", c => c.Text!.EndsWith("Done.", StringComparison.Ordinal));

        var sent = calls.Where(c => c.Method == "sendMessage").ToList();
        Assert.True(sent.Count >= 2);
        foreach (var message in sent)
        {
            Assert.True(message.Text!.Length <= 4096);
            Assert.DoesNotContain("```", message.Text, StringComparison.Ordinal);
            var entities = message.Body["entities"]!.AsArray();
            var pre = Assert.Single(entities, e => e!["type"]!.GetValue<string>() == "pre")!;
            Assert.Equal("python", pre["language"]!.GetValue<string>());
            Assert.True(pre["offset"]!.GetValue<int>() + pre["length"]!.GetValue<int>() <= message.Text.Length);
        }

        // Every line of code arrived, in order, inside the code blocks.
        var shown = string.Join('\n', sent.Select(m => m.Text));
        Assert.Contains("line_0000 = 0", shown, StringComparison.Ordinal);
        Assert.Contains("line_0399 = 399", shown, StringComparison.Ordinal);
    }

    [Fact]
    public async Task When_the_server_refuses_the_formatting_the_answer_goes_as_plain_text()
    {
        await using var api = new FakeBotApi();
        api.Unsupported("sendMessageDraft"); // an older client path: edits, then the final message
        api.FailNext("sendMessage", 400, "Bad Request: can't parse entities: Unsupported start tag at byte offset 3");
        var dispatcher = new ScriptedDispatcher { Answer = _ => ["Use **care**."] };
        await using var bot = await BotHarness.StartAsync(redis, api, dispatcher, null, BotHarness.NewPrefix(), BotHarness.NewHostKey());

        api.Enqueue(FakeBotApi.TextUpdate(1603, 1603, "advice?", 51));
        var calls = await api.WaitForAsync("sendMessage", c => c.Text == "Use **care**." && c.Body["entities"] is null);
        var attempts = calls.Where(c => c.Method == "sendMessage").ToList();
        Assert.Equal("Use care.", attempts[0].Text);
        Assert.NotNull(attempts[0].Body["entities"]);
    }

    [Fact]
    public async Task A_guest_mention_is_answered_with_answerGuestQuery_billed_to_the_asker_with_no_context_kept()
    {
        await using var api = new FakeBotApi();
        var dispatcher = new ScriptedDispatcher { Answer = _ => ["A Merkle tree ", "hashes **pairs**."] };
        await using var bot = await BotHarness.StartAsync(redis, api, dispatcher, null, BotHarness.NewPrefix(), BotHarness.NewHostKey());
        const long asker = 1604;
        await bot.Ledger.CreditAsync(AccountId.User(asker), 10_000_000, AccountId.FreeAllowance, "guest-fund-" + Guid.NewGuid(), default);

        // A chat the bot is not a member of.
        api.Enqueue(FakeBotApi.GuestUpdate(-100777, asker, "what is a Merkle tree?", 61, "gq-1"));
        var calls = await api.WaitForAsync("answerGuestQuery", c => true);
        var answer = calls.Single(c => c.Method == "answerGuestQuery");
        Assert.Equal("gq-1", answer.Body["guest_query_id"]!.GetValue<string>());
        var result = answer.Body["result"]!;
        Assert.Equal("article", result["type"]!.GetValue<string>());
        Assert.Equal("A Merkle tree hashes pairs.", result["input_message_content"]!["message_text"]!.GetValue<string>());
        Assert.Equal("bold", result["input_message_content"]!["entities"]![0]!["type"]!.GetValue<string>());
        Assert.DoesNotContain(api.Calls(), c => c.Method == "sendMessage" && c.ChatId == -100777);

        var request = Assert.Single(dispatcher.Requests);
        Assert.Equal(AccountId.User(asker), request.Payer);
        Assert.Equal("what is a Merkle tree?", Assert.Single(request.Generation.Messages!).Content);

        // A second guest question carries no context of the first.
        api.Enqueue(FakeBotApi.GuestUpdate(-100777, asker, "and a hash?", 62, "gq-2"));
        await api.WaitForAsync("answerGuestQuery", c => true, count: 2);
        Assert.Single(dispatcher.Requests[1].Generation.Messages!);
    }

    [Fact]
    public async Task Guest_context_is_kept_per_chat_only_after_the_user_opts_in_and_is_forgotten_when_they_opt_out()
    {
        await using var api = new FakeBotApi();
        var dispatcher = new ScriptedDispatcher { Answer = r => ["Answer " + r.Generation.Messages!.Count + "."] };
        var prefix = BotHarness.NewPrefix();
        await using var bot = await BotHarness.StartAsync(redis, api, dispatcher, null, prefix, BotHarness.NewHostKey());
        const long asker = 1607;
        await bot.Ledger.CreditAsync(AccountId.User(asker), 10_000_000, AccountId.FreeAllowance, "guest-fund-" + Guid.NewGuid(), default);

        // Off by default: the second question in the same chat carries nothing of the first.
        api.Enqueue(FakeBotApi.GuestUpdate(-100781, asker, "pineapple question", 81, "gq-m1"));
        await api.WaitForAsync("answerGuestQuery", c => true, count: 1);
        api.Enqueue(FakeBotApi.GuestUpdate(-100781, asker, "follow-up", 82, "gq-m2"));
        await api.WaitForAsync("answerGuestQuery", c => true, count: 2);
        Assert.Single(dispatcher.Requests[1].Generation.Messages!);

        // Opting in is a private command, stored per user.
        api.Enqueue(FakeBotApi.TextUpdate(asker, asker, "/guestmemory on", 83));
        await api.WaitForAsync("sendMessage", c => c.ChatId == asker && c.Text!.Contains("I keep our recent turns", StringComparison.Ordinal));

        api.Enqueue(FakeBotApi.GuestUpdate(-100781, asker, "pineapple again", 84, "gq-m3"));
        await api.WaitForAsync("answerGuestQuery", c => true, count: 3);
        api.Enqueue(FakeBotApi.GuestUpdate(-100781, asker, "and then?", 85, "gq-m4"));
        await api.WaitForAsync("answerGuestQuery", c => true, count: 4);
        Assert.Equal(
            [("user", "pineapple again"), ("assistant", "Answer 1."), ("user", "and then?")],
            dispatcher.Requests[3].Generation.Messages!.Select(m => (m.Role, m.Content)));

        // Per chat: another chat the user mentions the bot in starts empty. Kept turns are sealed, never plaintext.
        api.Enqueue(FakeBotApi.GuestUpdate(-100782, asker, "elsewhere", 86, "gq-m5"));
        await api.WaitForAsync("answerGuestQuery", c => true, count: 5);
        Assert.Single(dispatcher.Requests[4].Generation.Messages!);
        await RedisPlaintext.AssertAbsentAsync(bot.Redis, prefix + ":*", "pineapple again", "Answer 1.");

        // Opting out forgets what was kept and keeps nothing more.
        api.Enqueue(FakeBotApi.TextUpdate(asker, asker, "/guestmemory off", 87));
        await api.WaitForAsync("sendMessage", c => c.ChatId == asker && c.Text!.Contains("I keep no context", StringComparison.Ordinal));
        api.Enqueue(FakeBotApi.GuestUpdate(-100781, asker, "still there?", 88, "gq-m6"));
        await api.WaitForAsync("answerGuestQuery", c => true, count: 6);
        Assert.Single(dispatcher.Requests[5].Generation.Messages!);
    }

    [Fact]
    public async Task A_guest_without_a_balance_is_told_so_and_nothing_is_dispatched()
    {
        await using var api = new FakeBotApi();
        var dispatcher = new ScriptedDispatcher();
        await using var bot = await BotHarness.StartAsync(redis, api, dispatcher, null, BotHarness.NewPrefix(), BotHarness.NewHostKey());

        api.Enqueue(FakeBotApi.GuestUpdate(-100778, 1605, "hello", 71, "gq-3"));
        var calls = await api.WaitForAsync("answerGuestQuery", c => true);
        Assert.Contains("balance", calls.Single(c => c.Method == "answerGuestQuery").Body["result"]!["input_message_content"]!["message_text"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Empty(dispatcher.Requests);
    }

    [Fact]
    public async Task In_a_group_a_reply_meant_for_one_member_is_an_ephemeral_message()
    {
        await using var api = new FakeBotApi();
        const long group = -1001600;
        const long admin = 1606;
        const long member = 1607;
        api.MakeAdmin(group, admin);
        var dispatcher = new ScriptedDispatcher();
        await using var bot = await BotHarness.StartAsync(redis, api, dispatcher, null, BotHarness.NewPrefix(), BotHarness.NewHostKey());

        // A non-admin asking for settings: only they need to see the refusal.
        api.Enqueue(FakeBotApi.TextUpdate(group, member, "/settings off", 81));
        var calls = await api.WaitForAsync("sendMessage", c => c.Text!.Contains("Only the group's admins", StringComparison.Ordinal));
        var refusal = calls.Single(c => c.Method == "sendMessage");
        Assert.Equal(member, refusal.Body["ephemeral_message_parameters"]!["receiver_user_id"]!.GetValue<long>());
    }

    [Fact]
    public async Task In_a_group_a_members_own_empty_balance_is_told_to_them_alone_and_nothing_is_dispatched()
    {
        await using var api = new FakeBotApi();
        const long group = -1001601;
        const long member = 1608;
        var dispatcher = new ScriptedDispatcher();
        await using var bot = await BotHarness.StartAsync(redis, api, dispatcher, null, BotHarness.NewPrefix(), BotHarness.NewHostKey(),
            new Dictionary<string, string?> { ["Telegram:FreeAllowanceNanotons"] = "0" });
        dispatcher.Ledger = bot.Ledger; // the hold is the balance check

        // The group's default: each member pays from their own balance, which is nobody else's business.
        api.Enqueue(FakeBotApi.MentionUpdate(group, member, "what is a Merkle tree?", 91));
        var calls = await api.WaitForAsync("sendMessage", c => c.ChatId == group && c.Text!.StartsWith("Your balance is used up", StringComparison.Ordinal));
        var notice = calls.Single(c => c.Method == "sendMessage" && c.ChatId == group);
        Assert.Equal(member, notice.Body["ephemeral_message_parameters"]!["receiver_user_id"]!.GetValue<long>());
        Assert.Equal(91, notice.Body["reply_parameters"]!["message_id"]!.GetValue<int>());
        Assert.Empty(dispatcher.Requests);
    }

    [Fact]
    public async Task In_a_group_balance_is_answered_to_the_asking_member_alone()
    {
        await using var api = new FakeBotApi();
        const long group = -1001602;
        const long member = 1609;
        var dispatcher = new ScriptedDispatcher();
        await using var bot = await BotHarness.StartAsync(redis, api, dispatcher, null, BotHarness.NewPrefix(), BotHarness.NewHostKey(),
            new Dictionary<string, string?> { ["Telegram:FreeAllowanceNanotons"] = "0" });
        await bot.Ledger.CreditAsync(AccountId.User(member), 2_500_000_000, AccountId.FreeAllowance, "balance-fund-" + Guid.NewGuid(), default);

        api.Enqueue(FakeBotApi.TextUpdate(group, member, "/balance", 92));
        var calls = await api.WaitForAsync("sendMessage", c => c.ChatId == group && c.Text!.StartsWith("Your balance:", StringComparison.Ordinal));
        var reply = calls.Single(c => c.Method == "sendMessage" && c.ChatId == group);
        Assert.Contains("2.5", reply.Text, StringComparison.Ordinal);
        Assert.Equal(member, reply.Body["ephemeral_message_parameters"]!["receiver_user_id"]!.GetValue<long>());
        Assert.Empty(dispatcher.Requests);
    }

    private static int CountOf(string text, string piece)
    {
        var n = 0;
        for (var i = text.IndexOf(piece, StringComparison.Ordinal); i >= 0; i = text.IndexOf(piece, i + piece.Length, StringComparison.Ordinal))
        {
            n++;
        }

        return n;
    }

    /// <summary>
    /// Streams "Once upon a time" then " and then" every 50 ms, far longer than any test waits for, until cancelled;
    /// each chunk is one token and reports the cumulative counts as the decode loop does (what a stopped answer bills).
    /// </summary>
    private sealed class LongAnswerInference : IInferenceService
    {
        public const int Length = 100_000;
        public const int PromptTokens = 6;
        public const string First = "Once upon a time";
        public const string Piece = " and then";
        private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _produced;

        public ModelInfo Model { get; } = new("long-test", new string('f', 64), "none", 0, 8192, 8192, HasChatTemplate: false);

        public int MaxConcurrency => 2;

        public Task Stopped => _stopped.Task;

        public int Produced => Volatile.Read(ref _produced);

        /// <summary>The text of the first <paramref name="chunks"/> chunks.</summary>
        public static string TextOf(int chunks) => First + string.Concat(Enumerable.Repeat(Piece, Math.Max(0, chunks - 1)));

        public async IAsyncEnumerable<GenerationChunk> GenerateAsync(GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            try
            {
                Interlocked.Increment(ref _produced);
                yield return new GenerationChunk(First, null, 1, PromptTokens);
                for (var i = 1; i < Length; i++)
                {
                    await Task.Delay(50, cancellationToken);
                    Interlocked.Increment(ref _produced);
                    yield return new GenerationChunk(Piece, null, i + 1, PromptTokens);
                }
            }
            finally
            {
                _stopped.TrySetResult();
            }
        }
    }
}
