export { channelRows, claimsView, groupsView, lagView } from './channels.js';
export type { ChannelRow, ClaimRow, ClaimsView, GroupsView, LagView } from './channels.js';
export { consoleApp, serveConsole } from './console.js';
export type { ConsoleOptions, RunningConsole } from './console.js';
export { listConversations, showConversation } from './conversations.js';
export type { ConversationDetail, ConversationFilter, ConversationPage, ConversationRow } from './conversations.js';
export { NotFoundError, UsageError } from './errors.js';
export { EXIT, runCli } from './main.js';
