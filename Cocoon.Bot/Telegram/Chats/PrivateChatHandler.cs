using System.Globalization;
using System.Text;
using Cocoon.Bot.Dispatch;
using Cocoon.Bot.Telegram.Accounts;
using Cocoon.Bot.Telegram.Payments;
using Cocoon.Bot.Telegram.Providers;
using Cocoon.Bot.Telegram.Transport;
using Cocoon.Engine.Protocol;
using Cocoon.Ledger.Accounts;
using global::Telegram.Bot.Types;
using global::Telegram.Bot.Types.ReplyMarkups;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.Telegram.Chats;

/// <summary>A user's private chat with the bot: commands, and every other text is a turn of the conversation.</summary>
public sealed class PrivateChatHandler(
    AnswerService answers,
    ConversationStore conversations,
    UserStore users,
    IDispatcher dispatcher,
    ILedger ledger,
    StarsPayments stars,
    ProviderCommands providers,
    ApiKeyCommands apiKeys,
    TierCommands tiers,
    ChatSender sender,
    BlockedChats blocked,
    TimeProvider time,
    IOptions<TelegramOptions> options,
    Widgets.TopUpWidgets widgets,
    ILedgerAccounts? accounts = null)
{

    public const string Welcome =
        "Hi! I'm Cocoon, a private AI. Ask me anything.\n\n" +
        "How privacy works: your message is encrypted on our gateway to one attested worker (a GPU box whose " +
        "software is verified) before it leaves; the queue and the operators only ever see ciphertext. I keep the " +
        "recent turns of our conversation encrypted so I can follow it, and forget them after a day of silence. " +
        "/new starts over, /forget deletes everything I store about you, /privacy shows who answered your last " +
        "prompt and under which attestation.\n\nYou get a small free allowance to start; /balance shows it, /topup adds more.";

    public const string Help =
        "Just write to me and I answer.\n\n" +
        "/new – start a new conversation\n/model – choose the model\n/balance – your balance\n" +
        "/usage – recent answers, tokens and cost\n/privacy – who answered your last prompt\n" +
        "/tier – which trust tiers may answer you (tee, simulated, consumer)\n" +
        "/topup – add credit (Telegram Stars or TON)\n/apikey – a key for the OpenAI-compatible API\n" +
        "/provider – sell inference with your GPU\n/forget – delete everything stored about you\n" +
        "/guestmemory on|off – keep context when you mention me in chats I'm not in (off by default)\n\n" +
        "In groups, add me and mention me, reply to me, or use /ask.";

    public const string Unsupported =
        "I can only read text for now: photos, voice messages, stickers and files aren't supported. Please write your question.";

    public async Task HandleAsync(Message message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        var userId = message.From?.Id ?? message.Chat.Id;
        var chatId = message.Chat.Id;

        // Writing to the bot again means the user unblocked it.
        await blocked.UnblockAsync(chatId, cancellationToken).ConfigureAwait(false);
        await EnsureAllowanceAsync(userId, cancellationToken).ConfigureAwait(false);

        if (message.Text is not { } text)
        {
            await sender.SendAsync(chatId, Unsupported, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (Command.Parse(text) is { } command)
        {
            await HandleCommandAsync(message, userId, command, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (await providers.InRegistrationAsync(userId, cancellationToken).ConfigureAwait(false))
        {
            await providers.AnswerAsync(chatId, userId, text, cancellationToken).ConfigureAwait(false);
            return;
        }

        await AskAsync(message, userId, text, cancellationToken).ConfigureAwait(false);
    }

    private async Task AskAsync(Message message, long userId, string text, CancellationToken cancellationToken)
    {
        var chatId = message.Chat.Id;
        var history = await conversations.LoadAsync(chatId, cancellationToken).ConfigureAwait(false);
        var turns = new List<ChatMessage>(history) { new("user", text) };
        var context = ConversationStore.Fit(turns, options.Value.ContextTokens - options.Value.MaxAnswerTokens);
        var model = await users.GetModelAsync(userId, cancellationToken).ConfigureAwait(false);
        var accepted = await users.GetTiersAsync(userId, cancellationToken).ConfigureAwait(false);

        var result = await answers.AskAsync(
            new AskRequest(chatId, IsPrivate: true, userId, AccountId.User(userId), message.MessageId, null, context, model, accepted),
            cancellationToken).ConfigureAwait(false);
        if (result is { Outcome: AskOutcome.Answered, Stream: { } stream })
        {
            turns.Add(new ChatMessage("assistant", stream.Text));
            await conversations.SaveAsync(chatId, turns, cancellationToken).ConfigureAwait(false);
            if (stream.Receipt is { } receipt)
            {
                await users.RecordAnswerAsync(userId, receipt, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Guest chats keep no context unless the user opts in here; turning it off also makes every kept guest
    /// conversation unreadable at once.
    /// </summary>
    private async Task GuestMemoryAsync(long chatId, long userId, string args, CancellationToken cancellationToken)
    {
        if (args is "on" or "off")
        {
            await users.SetGuestMemoryAsync(userId, args == "on", cancellationToken).ConfigureAwait(false);
            if (args == "off")
            {
                await conversations.ForgetGuestsAsync(userId, cancellationToken).ConfigureAwait(false);
            }
        }

        var on = await users.GetGuestMemoryAsync(userId, cancellationToken).ConfigureAwait(false);
        await sender.SendAsync(chatId, on
            ? "Guest chats: I keep our recent turns (encrypted, per chat) when you mention me in chats I'm not a member of. /guestmemory off forgets them."
            : "Guest chats: each mention stands alone; I keep no context. /guestmemory on keeps our recent turns per chat (encrypted).",
            cancellationToken).ConfigureAwait(false);
    }

    private async Task HandleCommandAsync(Message message, long userId, Command command, CancellationToken cancellationToken)
    {
        var chatId = message.Chat.Id;
        switch (command.Name)
        {
            case "start" when command.Args == "topup":
                await sender.SendAsync(chatId, "Choose an amount:", cancellationToken, stars.TopUpKeyboard(forGroup: false)).ConfigureAwait(false);
                break;
            case "start" when command.Args == "provider":
                await providers.HandleCommandAsync(chatId, userId, message.From?.Username, string.Empty, cancellationToken).ConfigureAwait(false);
                break;
            case "start":
                await sender.SendAsync(chatId, Welcome, cancellationToken).ConfigureAwait(false);
                break;
            case "help":
                await sender.SendAsync(chatId, Help, cancellationToken).ConfigureAwait(false);
                break;
            case "new":
                await conversations.ClearAsync(chatId, cancellationToken).ConfigureAwait(false);
                await sender.SendAsync(chatId, "Started a new conversation. The previous one is deleted.", cancellationToken).ConfigureAwait(false);
                break;
            case "guestmemory":
                await GuestMemoryAsync(chatId, userId, command.Args.ToLowerInvariant(), cancellationToken).ConfigureAwait(false);
                break;
            case "forget":
                await conversations.ClearAsync(chatId, cancellationToken).ConfigureAwait(false);
                await conversations.ForgetGuestsAsync(userId, cancellationToken).ConfigureAwait(false);
                await users.ForgetAsync(userId, cancellationToken).ConfigureAwait(false);
                await sender.SendAsync(chatId,
                    "Done: your conversation, model choice, receipts and usage history are deleted. " +
                    "Your balance and payment records stay, because money must stay accounted for.",
                    cancellationToken).ConfigureAwait(false);
                break;
            case "model":
                await SendModelsAsync(chatId, userId, cancellationToken).ConfigureAwait(false);
                break;
            case "balance":
                var balance = await ledger.GetBalanceAsync(AccountId.User(userId), cancellationToken).ConfigureAwait(false);
                await sender.SendAsync(chatId, $"Your balance: {Money.Ton(balance)}.", cancellationToken,
                    new InlineKeyboardMarkup(InlineKeyboardButton.WithCallbackData("Top up", CallbackData.TopUpMenu))).ConfigureAwait(false);
                break;
            case "usage":
                await SendUsageAsync(chatId, userId, cancellationToken).ConfigureAwait(false);
                break;
            case "privacy":
                await SendPrivacyAsync(chatId, userId, cancellationToken).ConfigureAwait(false);
                break;
            case "tier":
                await tiers.HandleAsync(chatId, userId, command.Args, cancellationToken).ConfigureAwait(false);
                break;
            case "topup":
                // Stars stay the default answer, on every client; the TON widget (Bot API 10.4) comes under it when
                // the gateway has TON, and a server or client without widgets simply keeps the Stars answer.
                await sender.SendAsync(chatId, "Add credit with Telegram Stars" + (options.Value.MiniAppUrl is { Length: > 0 } ? " or with TON in the Mini App" : string.Empty) + ":",
                    cancellationToken, stars.TopUpKeyboard(forGroup: false)).ConfigureAwait(false);
                await widgets.SendAsync(chatId, userId, cancellationToken).ConfigureAwait(false);
                break;
            case "provider":
                await providers.HandleCommandAsync(chatId, userId, message.From?.Username, command.Args, cancellationToken).ConfigureAwait(false);
                break;
            case "apikey":
                await apiKeys.HandleAsync(chatId, userId, command.Args, cancellationToken).ConfigureAwait(false);
                break;
            case "refund" when options.Value.OperatorUserIds.Contains(userId) && command.Args.Length > 0:
                var outcome = await stars.RefundAsync(command.Args, cancellationToken).ConfigureAwait(false);
                await sender.SendAsync(chatId, $"Refund of {command.Args}: {outcome}.", cancellationToken).ConfigureAwait(false);
                break;
            default:
                await sender.SendAsync(chatId, "I don't know that command. /help lists what I can do.", cancellationToken).ConfigureAwait(false);
                break;
        }
    }

    public async Task SendModelsAsync(long chatId, long userId, CancellationToken cancellationToken)
    {
        var served = await dispatcher.GetModelsAsync(cancellationToken).ConfigureAwait(false);
        var live = served.Where(m => m.Workers.Count > 0).ToList();
        if (live.Count == 0)
        {
            await sender.SendAsync(chatId, "No model is being served right now. Please try again later.", cancellationToken).ConfigureAwait(false);
            return;
        }

        var current = await users.GetModelAsync(userId, cancellationToken).ConfigureAwait(false) ?? options.Value.DefaultModel ?? live[0].Name;
        var buttons = live.Select(m =>
        {
            var min = m.Workers.Min(w => w.PriceCoefficient) / 1000.0;
            var max = m.Workers.Max(w => w.PriceCoefficient) / 1000.0;
            var price = min == max ? $"×{min:0.##}" : $"×{min:0.##}–{max:0.##}";
            var mark = m.Name == current ? "✓ " : string.Empty;
            return new[] { InlineKeyboardButton.WithCallbackData($"{mark}{m.Name} · {m.Workers.Count} workers · price {price}", CallbackData.ModelPrefix + Truncate(m.Name, 60)) };
        });
        await sender.SendAsync(chatId, "Choose a model (price is the workers' coefficient on the base per-token price):", cancellationToken, new InlineKeyboardMarkup(buttons)).ConfigureAwait(false);
    }

    private async Task SendUsageAsync(long chatId, long userId, CancellationToken cancellationToken)
    {
        var usage = await users.GetUsageAsync(userId, cancellationToken).ConfigureAwait(false);
        if (usage.Count == 0)
        {
            await sender.SendAsync(chatId, "No answers yet.", cancellationToken).ConfigureAwait(false);
            return;
        }

        var text = new StringBuilder("Recent answers:\n");
        foreach (var u in usage.Take(10))
        {
            text.Append(CultureInfo.InvariantCulture, $"{u.At:yyyy-MM-dd HH:mm} UTC · {u.Model} · {u.PromptTokens}+{u.CompletionTokens} tokens · {Money.Ton(u.CostNanotons)}\n");
        }

        text.Append(CultureInfo.InvariantCulture, $"Total of these: {Money.Ton(usage.Take(10).Sum(u => u.CostNanotons))}");
        await sender.SendAsync(chatId, text.ToString(), cancellationToken).ConfigureAwait(false);
    }

    private async Task SendPrivacyAsync(long chatId, long userId, CancellationToken cancellationToken)
    {
        var r = await users.GetLastReceiptAsync(userId, cancellationToken).ConfigureAwait(false);
        if (r is null)
        {
            await sender.SendAsync(chatId, "You haven't asked anything yet (or used /forget). " + Welcome[Welcome.IndexOf("How privacy", StringComparison.Ordinal)..], cancellationToken).ConfigureAwait(false);
            return;
        }

        var tier = r.Tier;
        var accepted = await users.GetTiersAsync(userId, cancellationToken).ConfigureAwait(false);
        var text =
            $"Your last prompt ({r.Model}, request {r.RequestId}):\n" +
            $"• answered by worker {r.WorkerId} of provider {r.ProviderId}\n" +
            $"• trust tier: {TierLabels.Explain(tier)}\n" +
            $"• attestation: {r.AttestationKind} — " + (tier switch
            {
                Cocoon.Engine.Matching.TrustTiers.Tee => "a hardware TEE report verified by the gateway before your prompt was sealed to it.\n",
                Cocoon.Engine.Matching.TrustTiers.Simulated => "SIMULATED: the worker's keys and measurement are checked, but no hardware enclave vouches for them. Good for testing, not a hardware guarantee.\n",
                _ => "NONE: no TEE; only the worker's own key signed its document.\n",
            }) +
            $"• tiers you accept: {TierLabels.Describe(accepted, tiers.NetworkDefault)} (/tier changes them)\n" +
            $"• sealed on the gateway at {r.GatewayStart:HH:mm:ss} UTC, worker ran {r.WorkerStart:HH:mm:ss}–{r.WorkerEnd:HH:mm:ss}\n" +
            $"• {r.PromptTokens}+{r.CompletionTokens} tokens, cost {Money.Ton(r.TotalCostNanotons)}, finished: {r.FinishReason}\n" +
            "Only ciphertext went through the queue; the conversation is stored encrypted and expires when idle.";
        await sender.SendAsync(chatId, text, cancellationToken).ConfigureAwait(false);
    }

    private async Task EnsureAllowanceAsync(long userId, CancellationToken cancellationToken)
    {
        var allowance = options.Value.FreeAllowanceNanotons;
        if (allowance <= 0 || await users.IsSeenAsync(userId, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        // Credit first, then remember: a crash in between credits again, which the idempotency key turns into nothing.
        // (After /forget a user is "new" here again, and the ledger still gives nothing twice.)
        if (accounts is not null)
        {
            await accounts.EnsureFreeAllowanceAsync(AccountId.User(userId), allowance, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await ledger.CreditAsync(AccountId.User(userId), allowance, AccountId.FreeAllowance, $"free-allowance:{userId}", cancellationToken).ConfigureAwait(false);
        }
        await users.MarkSeenAsync(userId, cancellationToken).ConfigureAwait(false);
    }

    private static string Truncate(string s, int bytes)
    {
        while (Encoding.UTF8.GetByteCount(s) > bytes)
        {
            s = s[..^1];
        }

        return s;
    }
}
