using Cocoon.Bot.Hosting;
using Cocoon.Bot.Telegram;

if (CommandLine.IsCommand(args))
{
    return await CommandLine.RunAsync(args);
}

var builder = WebApplication.CreateBuilder(args);
builder.AddCocoonGateway();
builder.AddTelegram();
var app = builder.Build();
app.MapCocoonGateway();
app.MapTelegram();
await app.RunAsync();
return 0;
