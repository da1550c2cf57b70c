using Cocoon.Bot.Hosting;
using Cocoon.Bot.Telegram;

// The one command besides serving: an operator's check of the gateway's own ledger database.
if (args is ["ledger", ..])
{
    return await LedgerCommand.RunAsync(args[1..]);
}

var builder = WebApplication.CreateBuilder(args);
builder.AddCocoonGateway();
builder.AddTelegram();
var app = builder.Build();
app.MapCocoonGateway();
app.MapTelegram();
await app.RunAsync();
return 0;
