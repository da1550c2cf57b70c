using global::Telegram.Bot;
using global::Telegram.Bot.Types;

namespace Cocoon.Bot.Telegram.Hosting;

/// <summary>Who the bot is (getMe), asked once: groups need the username to see mentions and the id to see replies.</summary>
public sealed class BotIdentity(ITelegramBotClient bot)
{
    private User? _me;

    // Two concurrent first calls both ask getMe; the answers are the same, so no lock is needed.
    public async Task<User> GetAsync(CancellationToken cancellationToken) =>
        _me ??= await bot.GetMe(cancellationToken).ConfigureAwait(false);
}
