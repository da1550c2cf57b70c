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
}
