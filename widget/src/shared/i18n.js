// Every string the visitor sees, in one catalogue. Add a language by adding a column to
// both tables; a missing key falls back to English. The loader imports only LOADER (esbuild
// drops the rest), so the host page pays for three strings, not the whole catalogue.

export const LOADER = {
  en: { open: 'Open chat', close: 'Close chat', unread: 'Open chat, {n} unread', title: 'Chat' },
  es: { open: 'Abrir chat', close: 'Cerrar chat', unread: 'Abrir chat, {n} sin leer', title: 'Chat' },
};

export const FRAME = {
  en: {
    title: 'Chat with us',
    welcome: 'Hi there! Ask us anything and we’ll get right back to you.',
    status_default: 'We usually reply in a few minutes',
    status_bot: 'Our assistant is answering',
    status_queued: 'Waiting for a person to join…',
    status_resolved: 'This conversation is resolved. Write again any time.',
    status_assigned: "You're chatting with {name}",
    status_assigned_anonymous: 'A person has joined',
    offline: 'Connection lost. Reconnecting…',
    handoff: 'Talk to a person',
    handoff_failed: "We couldn't reach a person just now. Please try again in a moment.",
    queue_position: "You're number {n} in line · about {m} min",
    queue_unknown: "You're number {n} in line · we'll reply as soon as someone is free",
    leave: 'End chat',
    leave_failed: "We couldn't end the chat just now. Please try again.",
    placeholder: 'Type your message…',
    message_label: 'Message',
    messages_label: 'Messages',
    send: 'Send',
    close: 'Close chat',
    you: 'You',
    assistant: 'Assistant',
    agent: 'Agent',
    sending: 'Sending…',
    sent: 'Sent',
    read: 'Read',
    not_sent: 'Not sent. ',
    retry: 'Retry',
    typing: '{name} is typing…',
    message: 'Message',
    choices: 'Choose an answer',
    articles: 'Articles',
    read_article: 'Read the article',
    search_open: 'Search help articles',
    search_label: 'Search help articles',
    search_placeholder: 'Search help articles…',
    search_none: 'No articles found. Ask us in the chat instead.',
    search_failed: "Search isn't available just now.",
    attach: 'Attach a picture or PDF',
    uploading: 'Uploading… {percent}%',
    open_file: 'Open full size',
    file_type: "{name} can't be sent: only pictures (PNG, JPEG, GIF, WebP) and PDF files.",
    file_size: '{name} is too big to send: files can be up to {max}.',
    file_too_big: '{name} is too big to send.',
    file_empty: '{name} is empty.',
    too_many_files: 'You can send up to {n} files at a time.',
    status_away: "We're away right now. Leave a message and we'll reply by email.",
    away_email: 'Your email',
    away_message: 'Your message',
    away_send: 'Leave a message',
    away_bad_email: 'Please enter a valid email address, like name@example.com.',
    away_no_message: 'Please write your message.',
    away_failed: "Your message wasn't sent. Please try again.",
    away_thanks: "Thanks! We'll reply to {email}.",
  },
  es: {
    title: 'Chatea con nosotros',
    welcome: '¡Hola! Pregúntanos lo que quieras y te responderemos enseguida.',
    status_default: 'Solemos responder en pocos minutos',
    status_bot: 'Te responde nuestro asistente',
    status_queued: 'Esperando a que se una una persona…',
    status_resolved: 'Esta conversación está resuelta. Escríbenos cuando quieras.',
    status_assigned: 'Estás hablando con {name}',
    status_assigned_anonymous: 'Se ha unido una persona',
    offline: 'Se perdió la conexión. Reconectando…',
    handoff: 'Hablar con una persona',
    handoff_failed: 'No pudimos contactar con una persona. Inténtalo de nuevo en un momento.',
    queue_position: 'Eres el número {n} en la fila · unos {m} min',
    queue_unknown: 'Eres el número {n} en la fila · te responderemos en cuanto alguien esté libre',
    leave: 'Terminar chat',
    leave_failed: 'No pudimos terminar el chat. Inténtalo de nuevo.',
    placeholder: 'Escribe tu mensaje…',
    message_label: 'Mensaje',
    messages_label: 'Mensajes',
    send: 'Enviar',
    close: 'Cerrar chat',
    you: 'Tú',
    assistant: 'Asistente',
    agent: 'Agente',
    sending: 'Enviando…',
    sent: 'Enviado',
    read: 'Leído',
    not_sent: 'No enviado. ',
    retry: 'Reintentar',
    typing: '{name} está escribiendo…',
    message: 'Mensaje',
    choices: 'Elige una respuesta',
    articles: 'Artículos',
    read_article: 'Leer el artículo',
    search_open: 'Buscar artículos de ayuda',
    search_label: 'Buscar artículos de ayuda',
    search_placeholder: 'Buscar artículos de ayuda…',
    search_none: 'No encontramos artículos. Pregúntanos en el chat.',
    search_failed: 'La búsqueda no está disponible ahora.',
    attach: 'Adjuntar una imagen o un PDF',
    uploading: 'Subiendo… {percent} %',
    open_file: 'Ver a tamaño completo',
    file_type: 'No se puede enviar {name}: solo imágenes (PNG, JPEG, GIF, WebP) y archivos PDF.',
    file_size: '{name} es demasiado grande: los archivos pueden ocupar hasta {max}.',
    file_too_big: '{name} es demasiado grande para enviarlo.',
    file_empty: '{name} está vacío.',
    too_many_files: 'Puedes enviar hasta {n} archivos a la vez.',
    status_away: 'Ahora no estamos. Déjanos un mensaje y te responderemos por correo.',
    away_email: 'Tu correo electrónico',
    away_message: 'Tu mensaje',
    away_send: 'Dejar un mensaje',
    away_bad_email: 'Escribe un correo válido, como nombre@ejemplo.com.',
    away_no_message: 'Escribe tu mensaje.',
    away_failed: 'Tu mensaje no se envió. Inténtalo de nuevo.',
    away_thanks: '¡Gracias! Te responderemos a {email}.',
  },
};

/** The catalogue's language for a requested locale ("es-MX" → "es"), else English. */
export function pickLocale(requested, table) {
  const tag = String(requested || '').toLowerCase();
  if (table[tag]) return tag;
  const language = tag.split(/[-_]/)[0];
  return table[language] ? language : 'en';
}

/** A translator for one language: t('typing', {name: 'Ada'}). */
export function translator(table, locale) {
  const strings = table[pickLocale(locale, table)];
  return (key, vars) => {
    const text = strings[key] ?? table.en[key] ?? key;
    return vars ? text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? '')) : text;
  };
}
