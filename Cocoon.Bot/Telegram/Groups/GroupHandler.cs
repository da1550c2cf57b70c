using System.Globalization;
using Cocoon.Bot.Dispatch;
using Cocoon.Bot.Telegram.Accounts;
using Cocoon.Bot.Telegram.Chats;
using Cocoon.Bot.Telegram.Hosting;
using Cocoon.Bot.Telegram.Payments;
using Cocoon.Engine.Protocol;
using Cocoon.Ledger.Accounts;
using global::Telegram.Bot;
using global::Telegram.Bot.Types;
using global::Telegram.Bot.Types.Enums;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.Telegram.Groups;

/// <summary>
/// Groups and supergroups: the bot answers only when mentioned, replied to, or asked with /ask (which is also all
/// that privacy mode lets it see). Admins configure it with /settings; admin status is asked from Telegram
/// (getChatMember) every time, never inferred from the message.
/// </summary>
public sealed partial class GroupHandler(
    ITelegramBotClient bot,
    BotIdentity identity,
    AnswerService answers,
    GroupSettingsStore settingsStore,
    GroupRateLimiter limiter,
    IDispatcher dispatcher,
    ILedger ledger,
    StarsPayments stars,
    ChatSender sender,
    TimeProvider time,
    IOptions<TelegramOptions> options,
    ILogger<GroupHandler> logger)
{
    public const string Greeting =
        "Hello! I'm Cocoon, a private AI. Mention me, reply to one of my messages, or use /ask and I answer here.\n\n" +
        "Privacy: I only see messages addressed to me (Telegram's privacy mode). Each question is encrypted to one " +
        "attested worker before it leaves our gateway; I keep no conversation history for groups.\n\n" +
        "Admins: /settings shows the options – turn me on or off, choose who pays (each user from their own balance, " +
        "or a group budget anyone can fund with /topup), a daily token limit per user, and the model.";

    public async Task OnMembershipAsync(ChatMemberUpdated update, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(update);
        if (update.Chat.Type is not (ChatType.Group or ChatType.Supergroup))
        {
            return;
        }

        var wasIn = update.OldChatMember.Status is ChatMemberStatus.Member or ChatMemberStatus.Administrator or ChatMemberStatus.Restricted;
        var isIn = update.NewChatMember.Status is ChatMemberStatus.Member or ChatMemberStatus.Administrator or ChatMemberStatus.Restricted;
        if (!wasIn && isIn)
        {
            LogAdded(logger, update.Chat.Id);
            await sender.SendAsync(update.Chat.Id, Greeting, cancellationToken).ConfigureAwait(false);
        }
        else if (wasIn && !isIn)
        {
            LogRemoved(logger, update.Chat.Id);
            await settingsStore.DeleteAsync(update.Chat.Id, cancellationToken).ConfigureAwait(false);
            limiter.Forget(update.Chat.Id);
        }
    }

    public async Task HandleAsync(Message message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message.From is not { } from || message.Text is not { } text)
        {
            return;
        }

        var me = await identity.GetAsync(cancellationToken).ConfigureAwait(false);
        if (Command.Parse(text) is { } command)
        {
            if (!command.IsFor(me.Username))
            {
                return;
            }

            switch (command.Name)
            {
                case "ask":
                    await AskAsync(message, from, command.Args, cancellationToken).ConfigureAwait(false);
                    return;
                case "settings":
                    await SettingsAsync(message, from, command.Args, cancellationToken).ConfigureAwait(false);
                    return;
                case "balance":
                    await BalanceAsync(message, from, cancellationToken).ConfigureAwait(false);
                    return;
                case "topup":
                    await sender.SendAsync(message.Chat.Id, "Add to this group's AI budget with Telegram Stars:", cancellationToken, stars.TopUpKeyboard(forGroup: true), replyTo: message.MessageId, threadId: ThreadOf(message)).ConfigureAwait(false);
                    return;
                case "help" or "start":
                    await sender.SendAsync(message.Chat.Id, Greeting, cancellationToken, replyTo: message.MessageId, threadId: ThreadOf(message)).ConfigureAwait(false);
                    return;
                default:
                    return;
            }
        }

        var mentioned = IsMentioned(message, me.Username);
        var repliedToMe = message.ReplyToMessage?.From?.Id == me.Id;
        if (!mentioned && !repliedToMe)
        {
            return;
        }

        var question = mentioned && me.Username is { } name
            ? text.Replace("@" + name, string.Empty, StringComparison.OrdinalIgnoreCase).Trim()
            : text;
        await AskAsync(message, from, question, cancellationToken).ConfigureAwait(false);
    }

    private async Task AskAsync(Message message, User from, string question, CancellationToken cancellationToken)
    {
        var chatId = message.Chat.Id;
        var threadId = ThreadOf(message);
        if (question.Length == 0)
        {
            await sender.SendAsync(chatId, "Ask me something after the command, e.g. /ask what is a Merkle tree?", cancellationToken, replyTo: message.MessageId, threadId: threadId).ConfigureAwait(false);
            return;
        }

        var settings = await settingsStore.GetAsync(chatId, cancellationToken).ConfigureAwait(false);
        if (!settings.Enabled)
        {
            await sender.SendAsync(chatId, "AI answers are turned off in this group. An admin can turn them on with /settings on.", cancellationToken, replyTo: message.MessageId, threadId: threadId).ConfigureAwait(false);
            return;
        }

        var now = time.GetUtcNow();
        if (settings.DailyTokenLimit > 0
            && await settingsStore.TokensTodayAsync(chatId, from.Id, now, cancellationToken).ConfigureAwait(false) >= settings.DailyTokenLimit)
        {
            await sender.SendToMemberAsync(chatId, from.Id, $"You've used your {settings.DailyTokenLimit} tokens for today in this group. Ask me in a private chat, or try again tomorrow.", cancellationToken, replyTo: message.MessageId, threadId: threadId).ConfigureAwait(false);
            return;
        }

        if (limiter.Reserve(chatId, options.Value.GroupMaxWait) is not { } wait)
        {
            LogDeclined(logger, chatId);
            await sender.SendAsync(chatId, "I'm answering a lot in this group right now and Telegram limits how often I may write here. Please ask again in a minute.", cancellationToken, replyTo: message.MessageId, threadId: threadId).ConfigureAwait(false);
            return;
        }

        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, time, cancellationToken).ConfigureAwait(false);
        }

        var messages = new List<ChatMessage>();
        if (message.ReplyToMessage is { Text: { } previous } reply && reply.From?.Id == (await identity.GetAsync(cancellationToken).ConfigureAwait(false)).Id)
        {
            messages.Add(new ChatMessage("assistant", previous));
        }

        messages.Add(new ChatMessage("user", question));
        var payer = settings.Payer == GroupPayer.Group ? AccountId.Group(chatId) : AccountId.User(from.Id);
        var result = await answers.AskAsync(new AskRequest(chatId, IsPrivate: false, from.Id, payer, message.MessageId, threadId, messages, settings.Model), cancellationToken).ConfigureAwait(false);
        if (result.Stream?.Receipt is { } receipt)
        {
            await settingsStore.AddTokensAsync(chatId, from.Id, now, receipt.PromptTokens + receipt.CompletionTokens, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>A member's own balance is nobody else's business: only they see it (an ephemeral message, Bot API 10.2).</summary>
    private async Task BalanceAsync(Message message, User from, CancellationToken cancellationToken)
    {
        var chatId = message.Chat.Id;
        var balance = await ledger.GetBalanceAsync(AccountId.User(from.Id), cancellationToken).ConfigureAwait(false);
        var settings = await settingsStore.GetAsync(chatId, cancellationToken).ConfigureAwait(false);
        var who = settings.Payer == GroupPayer.Group ? " Here the group's budget pays for answers." : string.Empty;
        await sender.SendToMemberAsync(chatId, from.Id, $"Your balance: {Money.Ton(balance)}.{who}", cancellationToken, replyTo: message.MessageId, threadId: ThreadOf(message)).ConfigureAwait(false);
    }

    private async Task SettingsAsync(Message message, User from, string args, CancellationToken cancellationToken)
    {
        var chatId = message.Chat.Id;
        var threadId = ThreadOf(message);
        var member = await bot.GetChatMember(chatId, from.Id, cancellationToken).ConfigureAwait(false);
        if (member.Status is not (ChatMemberStatus.Administrator or ChatMemberStatus.Creator))
        {
            await sender.SendToMemberAsync(chatId, from.Id, "Only the group's admins can change my settings.", cancellationToken, replyTo: message.MessageId, threadId: threadId).ConfigureAwait(false);
            return;
        }

        var s = await settingsStore.GetAsync(chatId, cancellationToken).ConfigureAwait(false);
        var parts = args.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        GroupSettings? changed = parts switch
        {
            ["on"] => s with { Enabled = true },
            ["off"] => s with { Enabled = false },
            ["payer", "group"] => s with { Payer = GroupPayer.Group },
            ["payer", "user" or "users"] => s with { Payer = GroupPayer.EachUser },
            ["limit", var n] when long.TryParse(n, NumberStyles.None, CultureInfo.InvariantCulture, out var limit) => s with { DailyTokenLimit = limit },
            ["model", "default"] => s with { Model = null },
            _ => null,
        };

        if (parts is ["model", var model] && model != "default")
        {
            var served = await dispatcher.GetModelsAsync(cancellationToken).ConfigureAwait(false);
            if (served.Any(m => m.Name == model))
            {
                changed = s with { Model = model };
            }
            else
            {
                await sender.SendAsync(chatId, $"No worker serves \"{model}\". Served now: {string.Join(", ", served.Select(m => m.Name))}.", cancellationToken, replyTo: message.MessageId, threadId: threadId).ConfigureAwait(false);
                return;
            }
        }

        if (changed is not null)
        {
            await settingsStore.SaveAsync(chatId, changed, cancellationToken).ConfigureAwait(false);
            s = changed;
        }

        var text =
            (changed is null && parts.Length > 0 ? "I didn't understand that setting.\n\n" : changed is null ? string.Empty : "Saved.\n\n") +
            $"Answers: {(s.Enabled ? "on" : "off")}\n" +
            $"Who pays: {(s.Payer == GroupPayer.Group ? "the group budget (fund it with /topup)" : "each user from their own balance")}\n" +
            $"Daily tokens per user: {(s.DailyTokenLimit == 0 ? "no limit" : s.DailyTokenLimit.ToString(CultureInfo.InvariantCulture))}\n" +
            $"Model: {s.Model ?? "the network default"}\n\n" +
            "Change with: /settings on | off | payer group | payer user | limit <tokens> (0 = none) | model <name> | model default";
        await sender.SendAsync(chatId, text, cancellationToken, replyTo: message.MessageId, threadId: threadId).ConfigureAwait(false);
    }

    internal static bool IsMentioned(Message message, string? username)
    {
        if (username is null || message.Text is not { } text)
        {
            return false;
        }

        foreach (var entity in message.Entities ?? [])
        {
            if (entity.Type == MessageEntityType.Mention
                && entity.Offset + entity.Length <= text.Length
                && string.Equals(text.Substring(entity.Offset, entity.Length), "@" + username, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static int? ThreadOf(Message message) => message.IsTopicMessage ? message.MessageThreadId : null;

    [LoggerMessage(EventId = LogEvents.Groups + 1, Level = LogLevel.Information, Message = "Added to group {ChatId}")]
    private static partial void LogAdded(ILogger logger, long chatId);

    [LoggerMessage(EventId = LogEvents.Groups + 2, Level = LogLevel.Information, Message = "Removed from group {ChatId}; its settings are deleted")]
    private static partial void LogRemoved(ILogger logger, long chatId);

    [LoggerMessage(EventId = LogEvents.Groups + 3, Level = LogLevel.Information, Message = "Group {ChatId} is over its message rate; an answer was declined politely")]
    private static partial void LogDeclined(ILogger logger, long chatId);
}
