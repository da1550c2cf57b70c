using Cocoon.Bot.Telegram.Transport;
using global::Telegram.Bot;
using global::Telegram.Bot.Exceptions;
using global::Telegram.Bot.Types;
using global::Telegram.Bot.Types.ReplyMarkups;

namespace Cocoon.Bot.Telegram.Chats;

/// <summary>
/// Sends plain text (no parse mode, so nothing in a model's answer can break the message), split at 4,096
/// characters, and never to a chat that has blocked the bot.
/// </summary>
public sealed class ChatSender(ITelegramBotClient bot, BlockedChats blocked)
{
    public async Task<Message?> SendAsync(long chatId, string text, CancellationToken cancellationToken, ReplyMarkup? markup = null, int? replyTo = null, int? threadId = null)
    {
        if (blocked.IsBlocked(chatId))
        {
            return null;
        }

        Message? last = null;
        var parts = MessageSplitter.Split(text);
        for (var i = 0; i < parts.Count; i++)
        {
            try
            {
                last = await bot.SendMessage(
                    chatId,
                    parts[i],
                    replyParameters: i == 0 && replyTo is { } r ? new ReplyParameters { MessageId = r, AllowSendingWithoutReply = true } : null,
                    replyMarkup: i == parts.Count - 1 ? markup : null,
                    linkPreviewOptions: new LinkPreviewOptions { IsDisabled = true },
                    messageThreadId: threadId,
                    cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (ApiRequestException ex) when (ex.ErrorCode == 403)
            {
                return null;
            }
        }

        return last;
    }

    /// <summary>
    /// In a group, a reply meant for one member (their balance, their own limit) as an ephemeral message only they
    /// see (Bot API 10.2); an older server that refuses it gets the ordinary public reply.
    /// </summary>
    public async Task<Message?> SendToMemberAsync(long chatId, long userId, string text, CancellationToken cancellationToken, int? replyTo = null, int? threadId = null)
    {
        if (blocked.IsBlocked(chatId))
        {
            return null;
        }

        try
        {
            return await bot.SendMessage(
                chatId,
                MessageSplitter.CutFirst(text).Head,
                replyParameters: replyTo is { } r ? new ReplyParameters { MessageId = r, AllowSendingWithoutReply = true } : null,
                linkPreviewOptions: new LinkPreviewOptions { IsDisabled = true },
                messageThreadId: threadId,
                ephemeralMessageParameters: new EphemeralMessageParameters { ReceiverUserId = userId },
                cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (ApiRequestException ex) when (ex.ErrorCode is 400 or 404 && !ex.Message.Contains("not enough rights", StringComparison.OrdinalIgnoreCase))
        {
            return await SendAsync(chatId, text, cancellationToken, replyTo: replyTo, threadId: threadId).ConfigureAwait(false);
        }
        catch (ApiRequestException ex) when (ex.ErrorCode == 403)
        {
            return null;
        }
    }
}
